package acmelab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// stopTimeout is how long a daemon gets to exit after SIGTERM before it is
// killed.
const stopTimeout = 10 * time.Second

// daemon is one lab server process, started in its own process group with
// its output in a log file.
type daemon struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
}

// startDaemon starts bin with args and env (added to a minimal environment),
// writing standard output and error to logPath (appended, so a restart keeps
// the earlier log).
func startDaemon(name, logPath string, env []string, bin string, args ...string) (*daemon, error) {
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	d := &daemon{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		logFile.Close()
		close(d.done)
	}()
	return d, nil
}

// exited reports whether the process has ended.
func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// stop ends the process: SIGTERM, then SIGKILL after stopTimeout. It
// returns once the process has exited and is safe to call more than once.
func (d *daemon) stop() error {
	if d.exited() {
		return nil
	}
	pgid := -d.cmd.Process.Pid
	syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-d.done:
		return nil
	case <-time.After(stopTimeout):
	}
	syscall.Kill(pgid, syscall.SIGKILL)
	select {
	case <-d.done:
		return fmt.Errorf("%s ignored SIGTERM for %s and was killed", d.name, stopTimeout)
	case <-time.After(stopTimeout):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", d.name, d.cmd.Process.Pid)
	}
}

// logTail returns the last n lines of the daemon's log.
func (d *daemon) logTail(n int) string {
	return tail(d.logPath, n)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", path, err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// errExited says a daemon ended while the lab waited for it to answer.
var errExited = errors.New("exited before it answered")
