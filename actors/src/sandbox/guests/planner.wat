;; The reference planner: a tiny but real guest of the sandbox ABI.
;;
;; plan: hold without a goal or on it, explore when the last consistency check
;; failed, otherwise go to the goal.
;; parameterize: a greedy step toward the goal, x first then y; exploring
;; sidesteps across the greedy direction (north when x is off, else east).
(module
  (func $at_goal (param $x i32) (param $y i32) (param $gx i32) (param $gy i32) (result i32)
    (i32.and
      (i32.eq (local.get $x) (local.get $gx))
      (i32.eq (local.get $y) (local.get $gy))))

  (func (export "plan")
    (param $x i32) (param $y i32) (param $gx i32) (param $gy i32) (param $blocked i32)
    (result i32)
    (if (i32.lt_s (local.get $gx) (i32.const 0))
      (then (return (i32.const 0))))
    (if (call $at_goal (local.get $x) (local.get $y) (local.get $gx) (local.get $gy))
      (then (return (i32.const 0))))
    (if (local.get $blocked)
      (then (return (i32.const 2))))
    (i32.const 1))

  (func $greedy (param $x i32) (param $y i32) (param $gx i32) (param $gy i32) (result i32)
    (if (i32.lt_s (local.get $x) (local.get $gx)) (then (return (i32.const 2))))
    (if (i32.gt_s (local.get $x) (local.get $gx)) (then (return (i32.const 4))))
    (if (i32.lt_s (local.get $y) (local.get $gy)) (then (return (i32.const 3))))
    (if (i32.gt_s (local.get $y) (local.get $gy)) (then (return (i32.const 1))))
    (i32.const 0))

  (func (export "parameterize")
    (param $intent i32) (param $x i32) (param $y i32) (param $gx i32) (param $gy i32)
    (result i32)
    (if (i32.lt_s (local.get $gx) (i32.const 0))
      (then (return (i32.const 0))))
    (if (i32.eq (local.get $intent) (i32.const 1))
      (then (return (call $greedy (local.get $x) (local.get $y) (local.get $gx) (local.get $gy)))))
    (if (i32.eq (local.get $intent) (i32.const 2))
      (then
        (if (i32.ne (local.get $x) (local.get $gx))
          (then (return (i32.const 1))))
        (return (i32.const 2))))
    (i32.const 0)))
