//go:build unix && !linux

package acmelab

import "syscall"

// sysProcAttr puts a daemon in a process group of its own, so that a Ctrl-C
// meant for the test does not reach it first and stop signals the whole
// group.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
