// ThreadSanitizer dies of SIGBUS under a small file-size limit, with no duoscope code involved:
//   swiftc -sanitize=thread -O tsan-fsize-sigbus.swift -o /tmp/t && bash -c "ulimit -f 400; /tmp/t"   # BUS
//   bash -c "ulimit -f 4000; /tmp/t"                                                                      # ok
// Why make sanitize-tsan skips TrainCommandTests/testCheckpointWriteFailureIsCleanError (docs/reliability.md).
import Dispatch
import Foundation
var total = 0
let lock = NSLock()
DispatchQueue.concurrentPerform(iterations: 64) { i in
    let s = String(repeating: "x", count: 100 + i)
    lock.lock(); total += s.utf8.count; lock.unlock()
}
print("ok", total)
