package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is one server under test, started by the bench.
type process struct {
	name string
	cmd  *exec.Cmd
	logs *os.File
}

// start runs bin with args; its standard error (and output, unless out takes it) goes to logPath.
func start(name, bin, logPath string, args ...string) (*process, io.Reader, error) {
	logs, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=") // each process sees every core, as in production
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		logs.Close()
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		logs.Close()
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &process{name: name, cmd: cmd, logs: logs}, out, nil
}

// stop ends the process with SIGTERM (a clean shutdown), then SIGKILL after a grace period.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.logs.Close()
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// cpu is the process's user+system CPU time so far, from /proc/<pid>/stat.
func cpu(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces, so split after its ')').
	i := strings.LastIndexByte(string(data), ')')
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const clkTck = 100 // USER_HZ: 100 on every Linux this runs on
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// peakRSS is the process's resident set high-water mark (VmHWM), in bytes.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// freeAddr returns a loopback address nobody listens on (the bench writes it into the config).
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls url every millisecond until it answers 200 and returns how long that took.
func waitReady(ctx context.Context, url string, startedAt time.Time, limit time.Duration) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(startedAt), nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return 0, fmt.Errorf("%s did not answer 200 within %s", url, limit)
}

// readLine reads the first line a child prints on standard output (its address).
func readLine(r io.Reader, limit time.Duration) (string, error) {
	lines := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil {
			errc <- err
			return
		}
		lines <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case l := <-lines:
		return l, nil
	case err := <-errc:
		return "", err
	case <-time.After(limit):
		return "", errors.New("timed out waiting for the child's address")
	}
}
