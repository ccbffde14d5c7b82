package model

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Progress is told, while a file downloads, how many bytes of it are on
// disk and how many there are in all (-1 while unknown).
type Progress func(done, total int64)

// Downloader fetches files over HTTP into place: it writes to "<dest>.part",
// resumes a partial file with a Range request (starting over when the
// server ignores it), retries dropped connections, checks size and SHA-256,
// and renames the file into place only when it is whole and correct.
type Downloader struct {
	// Client does the requests; nil uses a client with connection and
	// response-header timeouts and no overall limit.
	Client *http.Client
	// Progress, when set, is called after every chunk written.
	Progress Progress
	// Retries is how many times a dropped or stalled transfer is resumed
	// (default 3; negative means none).
	Retries int
	// RetryDelay is the pause before the first retry, doubling after each
	// (default 1 s).
	RetryDelay time.Duration
	// StallTimeout aborts (and then resumes) a transfer that receives no
	// byte for this long (default 60 s).
	StallTimeout time.Duration
}

var defaultClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	TLSHandshakeTimeout:   15 * time.Second,
	ResponseHeaderTimeout: 30 * time.Second,
	IdleConnTimeout:       60 * time.Second,
}}

// retryable marks transfer errors worth resuming.
type retryable struct{ err error }

func (r retryable) Error() string { return r.err.Error() }
func (r retryable) Unwrap() error { return r.err }

// Download fetches url to dest. size (0: unknown) and sha256hex (empty: not
// pinned) are checked before the rename; it returns the file's SHA-256.
// Hash and size mismatches remove the partial file (its bytes are wrong);
// other failures keep it for the next attempt to resume.
func (d *Downloader) Download(ctx context.Context, url, dest string, size int64, sha256hex string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", fmt.Errorf("model: %w", err)
	}
	part := dest + ".part"
	retries, delay := d.Retries, d.RetryDelay
	if retries == 0 {
		retries = 3
	}
	if delay <= 0 {
		delay = time.Second
	}
	for attempt := 0; ; attempt++ {
		err := d.attempt(ctx, url, part, size)
		if err == nil {
			break
		}
		var r retryable
		if !errors.As(err, &r) || attempt >= retries || ctx.Err() != nil {
			if ctx.Err() != nil {
				return "", fmt.Errorf("model: download %s: %w", url, ctx.Err())
			}
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("model: download %s: %w", url, ctx.Err())
		case <-time.After(delay):
		}
		delay *= 2
	}
	got, sum, err := hashFile(part)
	if err != nil {
		return "", fmt.Errorf("model: %w", err)
	}
	if size > 0 && got != size {
		os.Remove(part)
		return "", fmt.Errorf("model: %s: downloaded %d bytes, want %d: %w", dest, got, size, ErrSizeMismatch)
	}
	if sha256hex != "" && sum != sha256hex {
		os.Remove(part)
		return "", hashMismatch(dest, sha256hex, sum)
	}
	if err := os.Rename(part, dest); err != nil {
		return "", fmt.Errorf("model: %w", err)
	}
	syncDir(filepath.Dir(dest))
	return sum, nil
}

// attempt runs one request, appending to part from its current size.
func (d *Downloader) attempt(ctx context.Context, url, part string, size int64) error {
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	defer f.Close()
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("model: seek %s: %w", part, err)
	}
	if size > 0 && off > size {
		if off, err = restart(f, part); err != nil {
			return err
		}
	}
	if size > 0 && off == size {
		return nil // complete from an earlier run
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	req.Header.Set("User-Agent", "atelier-model-fetch")
	if off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	client := d.Client
	if client == nil {
		client = defaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		err = fmt.Errorf("model: download %s: %w", url, err)
		var dns *net.DNSError
		if errors.As(err, &dns) && dns.IsNotFound {
			return err // offline or a wrong host: retrying will not help
		}
		return retryable{err}
	}
	defer resp.Body.Close()

	total := int64(-1)
	switch {
	case resp.StatusCode == http.StatusOK:
		if off > 0 { // the server ignored the Range header: start over
			if off, err = restart(f, part); err != nil {
				return err
			}
		}
		if resp.ContentLength >= 0 {
			total = resp.ContentLength
		}
	case resp.StatusCode == http.StatusPartialContent && off > 0:
		start, whole, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != off {
			// Not the bytes we asked for: drop what we have and retry from 0.
			if _, err := restart(f, part); err != nil {
				return err
			}
			return retryable{fmt.Errorf("model: download %s: server answered range %q for bytes %d-", url, resp.Header.Get("Content-Range"), off)}
		}
		total = whole
		if total < 0 && resp.ContentLength >= 0 {
			total = off + resp.ContentLength
		}
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && off > 0:
		// The part file may already be whole; the size and hash checks decide.
		if _, whole, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && whole == off {
			return nil
		}
		if _, err := restart(f, part); err != nil {
			return err
		}
		return retryable{fmt.Errorf("model: download %s: range %d- not satisfiable", url, off)}
	default:
		err := fmt.Errorf("model: download %s: %s", url, resp.Status)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return retryable{err}
		}
		return err
	}
	if size > 0 && total >= 0 && total != size {
		return fmt.Errorf("model: download %s: server has %d bytes, want %d: %w", url, total, size, ErrSizeMismatch)
	}

	stall := d.StallTimeout
	if stall <= 0 {
		stall = time.Minute
	}
	timer := time.AfterFunc(stall, cancel)
	defer timer.Stop()
	buf := make([]byte, 256<<10)
	done := off
	if d.Progress != nil {
		d.Progress(done, total)
	}
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			timer.Reset(stall)
			if _, err := f.Write(buf[:n]); err != nil {
				return fmt.Errorf("model: write %s: %w", part, err)
			}
			done += int64(n)
			if d.Progress != nil {
				d.Progress(done, total)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if ctx.Err() != nil && !timer.Stop() {
				rerr = fmt.Errorf("no data for %v", stall)
			}
			return retryable{fmt.Errorf("model: download %s: interrupted after %d bytes: %w", url, done, rerr)}
		}
	}
	if total >= 0 && done < total {
		return retryable{fmt.Errorf("model: download %s: %d of %d bytes: %w", url, done, total, io.ErrUnexpectedEOF)}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("model: sync %s: %w", part, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("model: close %s: %w", part, err)
	}
	return nil
}

// restart empties the part file.
func restart(f *os.File, part string) (int64, error) {
	if err := f.Truncate(0); err != nil {
		return 0, fmt.Errorf("model: truncate %s: %w", part, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("model: seek %s: %w", part, err)
	}
	return 0, nil
}

// parseContentRange reads "bytes START-END/TOTAL" (TOTAL may be "*", giving
// -1) and "bytes */TOTAL" (START -1).
func parseContentRange(h string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(h, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		n, err := strconv.ParseInt(tot, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total = n
	}
	if rng == "*" {
		return -1, total, true
	}
	s, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return n, total, true
}

// syncDir flushes a rename to disk where the platform allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
