;; A guest whose plan never returns: only fuel or the deadline stops it.
(module
  (func (export "plan") (param i32 i32 i32 i32 i32) (result i32)
    (loop $forever (br $forever))
    (i32.const 0)))
