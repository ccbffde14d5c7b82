package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// torchProc is a running PyTorch reference script (bench_torch.py,
// bench_sr_torch.py) that answers one JSON request per line, so that a
// benchmark can alternate Atelier's runs with PyTorch's and both see the
// same load on a shared machine.
type torchProc struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Scanner
	errb    bytes.Buffer
	version string
}

// startTorchProc runs python with args and waits for the script's first
// line, {"torch": version} or {"error": message}. Every failure to start
// wraps errNoTorch.
func startTorchProc(ctx context.Context, python string, args ...string) (*torchProc, error) {
	if _, err := os.Stat(python); err != nil {
		return nil, fmt.Errorf("%w: %s not found", errNoTorch, python)
	}
	t := &torchProc{cmd: exec.CommandContext(ctx, python, args...)}
	t.cmd.Stderr = &t.errb
	var err error
	if t.in, err = t.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := t.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	t.out = bufio.NewScanner(stdout)
	t.out.Buffer(make([]byte, 1<<16), 1<<20)
	if err := t.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errNoTorch, python, err)
	}
	var hello struct {
		Version string `json:"torch"`
		Error   string `json:"error"`
	}
	if err := t.read(&hello); err != nil {
		t.close()
		return nil, fmt.Errorf("%w: %v", errNoTorch, err)
	}
	if hello.Error != "" {
		t.close()
		return nil, fmt.Errorf("%w: %s", errNoTorch, hello.Error)
	}
	t.version = hello.Version
	return t, nil
}

// read decodes the script's next line into v.
func (t *torchProc) read(v any) error {
	if !t.out.Scan() {
		msg := lastLine(t.errb.String() + "\n(no output)")
		if err := t.out.Err(); err != nil {
			msg = err.Error()
		}
		return fmt.Errorf("PyTorch stopped: %s", msg)
	}
	line := t.out.Bytes()
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(line, &e) == nil && e.Error != "" {
		return errors.New(e.Error)
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("unreadable answer from PyTorch: %q", line)
	}
	return nil
}

// call sends one request and decodes the answer into v.
func (t *torchProc) call(req map[string]string, v any) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := t.in.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("PyTorch stopped: %w", err)
	}
	return t.read(v)
}

// seconds sends req and returns the "s" field of the answer, the time
// PyTorch measured.
func (t *torchProc) seconds(req map[string]string) (float64, error) {
	var r struct {
		S *float64 `json:"s"`
	}
	if err := t.call(req, &r); err != nil {
		return 0, err
	}
	if r.S == nil {
		return 0, errors.New("PyTorch gave no time")
	}
	return *r.S, nil
}

// close asks the script to quit and waits for it; calling it again does
// nothing.
func (t *torchProc) close() {
	if t.in == nil {
		return
	}
	t.in.Write([]byte(`{"cmd":"quit"}` + "\n"))
	t.in.Close()
	t.in = nil
	t.cmd.Wait()
}
