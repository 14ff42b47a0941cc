//go:build linux

package testenv

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// sysProcAttr makes the server die with us.
//
// Pdeathsig asks the kernel to SIGKILL the child when its parent exits. On
// Linux the "parent" is the *thread* that forked, not the process: if that
// thread exits, the child is killed even though the test binary lives on. Go
// threads come and go (an idle M can be torn down, and a goroutine that exits
// while locked to its thread takes the thread with it), so a plain cmd.Start
// from an arbitrary goroutine could kill a server mid-test. startProcess
// therefore forks from one goroutine that is locked to its OS thread and never
// returns, so that thread lives exactly as long as the process.
//
// Setpgid puts the server in its own process group, so a Ctrl-C in the
// terminal (SIGINT to the foreground group) reaches only our process, which
// then stops the server and removes its files in order.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce sync.Once
	spawnCh   = make(chan spawnRequest)
)

// spawner is the dedicated forking thread (see sysProcAttr). It never returns
// and never unlocks, so its thread is never reused or destroyed.
func spawner() {
	runtime.LockOSThread()
	for req := range spawnCh {
		req.done <- req.cmd.Start()
	}
}

// startProcess starts cmd from the dedicated spawner thread.
func startProcess(cmd *exec.Cmd) error {
	spawnOnce.Do(func() { go spawner() })
	req := spawnRequest{cmd: cmd, done: make(chan error, 1)}
	spawnCh <- req
	return <-req.done
}
