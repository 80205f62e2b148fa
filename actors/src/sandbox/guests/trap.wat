;; A guest whose plan always traps.
(module
  (func (export "plan") (param i32 i32 i32 i32 i32) (result i32)
    unreachable))
