;; A guest that finishes, but only after 10^8 loop iterations: with a large
;; fuel budget it is the wall-clock deadline that stops it.
(module
  (func (export "plan") (param i32 i32 i32 i32 i32) (result i32)
    (local $i i32)
    (loop $count
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $count (i32.lt_u (local.get $i) (i32.const 100000000))))
    (i32.const 0)))
