package acmelab

import "syscall"

// sysProcAttr puts a daemon in a process group of its own (a Ctrl-C meant
// for the test does not reach it first, and stop signals the whole group)
// and has the kernel stop it if the test process dies without cleaning up.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
