//go:build !linux

package testenv

import (
	"os/exec"
	"syscall"
)

// sysProcAttr: outside Linux there is no Pdeathsig; a server outlives a
// killed parent and its run directory is reclaimed by the next Start only
// once the server is gone (see cleanStaleDirs).
func sysProcAttr() *syscall.SysProcAttr { return nil }

func startProcess(cmd *exec.Cmd) error { return cmd.Start() }
