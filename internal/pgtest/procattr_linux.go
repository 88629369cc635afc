package pgtest

import "syscall"

// procAttr runs a server process as cred (nil: this process's user) and
// has it shut down fast should the test binary die without stopping it.
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT}
}
