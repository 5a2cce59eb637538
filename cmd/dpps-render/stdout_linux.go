package main

import (
	"os"
	"syscall"
)

// stdoutClosed reports whether the process was started with its stdout
// closed (`dpps-render >&-`). The Go runtime then opens /dev/null as fd 1,
// read-write, and every write would succeed into nothing; a shell's
// `>/dev/null` opens it write-only, so only a read-write /dev/null on fd 1
// is taken as closed.
func stdoutClosed() bool {
	var st, null syscall.Stat_t
	if syscall.Fstat(1, &st) != nil {
		return true
	}
	if syscall.Stat(os.DevNull, &null) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFCHR || st.Rdev != null.Rdev {
		return false
	}
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, 1, syscall.F_GETFL, 0)
	return errno == 0 && flags&syscall.O_ACCMODE == syscall.O_RDWR
}
