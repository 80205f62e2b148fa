;; A guest that grows its memory one page at a time without end. The sandbox
;; traps the growth that crosses its limit; a runtime that returned -1 instead
;; would reach the `unreachable`, as a guest allocator aborts.
(module
  (memory (export "memory") 1)
  (func (export "plan") (param i32 i32 i32 i32 i32) (result i32)
    (loop $grow
      (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
        (then unreachable))
      (br $grow))
    (i32.const 0)))
