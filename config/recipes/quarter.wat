;; A recipe step's planner (the step ABI of `missions::sandboxed`): cover
;; one quarter of the floor, a different one each attempt (attempt 1 the
;; north-west quarter, 2 north-east, 3 south-west, 4 south-east, 5 again
;; north-west ...).
(module
  (func (export "step_goal")
    (param $which i32) (param $width i32) (param $height i32) (param $attempt i32) (param $reserved i32)
    (result i32)
    (local $quarter i32) (local $half_w i32) (local $half_h i32) (local $x0 i32) (local $y0 i32)
    (local.set $quarter (i32.rem_u (i32.sub (local.get $attempt) (i32.const 1)) (i32.const 4)))
    (local.set $half_w (i32.div_u (local.get $width) (i32.const 2)))
    (local.set $half_h (i32.div_u (local.get $height) (i32.const 2)))
    (local.set $x0 (i32.mul (i32.rem_u (local.get $quarter) (i32.const 2)) (local.get $half_w)))
    (local.set $y0 (i32.mul (i32.div_u (local.get $quarter) (i32.const 2)) (local.get $half_h)))
    (block $kind
      (br_if $kind (i32.ne (local.get $which) (i32.const 0)))
      (return (i32.const 0)))
    (block $min_x
      (br_if $min_x (i32.ne (local.get $which) (i32.const 1)))
      (return (local.get $x0)))
    (block $min_y
      (br_if $min_y (i32.ne (local.get $which) (i32.const 2)))
      (return (local.get $y0)))
    (block $max_x
      (br_if $max_x (i32.ne (local.get $which) (i32.const 3)))
      (return (i32.sub (i32.add (local.get $x0) (local.get $half_w)) (i32.const 1))))
    (i32.sub (i32.add (local.get $y0) (local.get $half_h)) (i32.const 1))))
