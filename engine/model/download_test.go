package model

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func payload(n int) ([]byte, string) {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	s := sha256.Sum256(b)
	return b, hex.EncodeToString(s[:])
}

// recorder counts requests and remembers their Range headers.
type recorder struct {
	mu     sync.Mutex
	ranges []string
}

func (r *recorder) note(req *http.Request) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ranges = append(r.ranges, req.Header.Get("Range"))
	return len(r.ranges)
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ranges...)
}

// dropAfter writes the headers for the whole body, then n bytes, then kills
// the connection.
func dropAfter(t *testing.T, w http.ResponseWriter, body []byte, n int) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body[:n])
	w.(http.Flusher).Flush()
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	conn.Close()
}

func fastDownloader(progress Progress) *Downloader {
	return &Downloader{Progress: progress, RetryDelay: time.Millisecond, StallTimeout: 2 * time.Second}
}

func TestDownload(t *testing.T) {
	body, sum := payload(1<<20 + 123)
	type server func(t *testing.T, rec *recorder) http.HandlerFunc
	serve := func(t *testing.T, rec *recorder) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			rec.note(r)
			http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(body))
		}
	}
	cases := []struct {
		name        string
		server      server
		partial     []byte // pre-existing .part content
		wantRanges  []string
		sizeUnknown bool
	}{
		{"plain", serve, nil, []string{""}, false},
		{"resume existing part", serve, body[:1000], []string{"bytes=1000-"}, false},
		{"complete part, size known", serve, body, nil, false},                                                 // no request at all
		{"complete part, size unknown", serve, body, []string{"bytes=" + strconv.Itoa(len(body)) + "-"}, true}, // 416 */len
		{"drops the connection mid-file", func(t *testing.T, rec *recorder) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if rec.note(r) == 1 {
					dropAfter(t, w, body, 300000)
					return
				}
				http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(body))
			}
		}, nil, []string{"", "bytes=300000-"}, false},
		{"ignores Range", func(t *testing.T, rec *recorder) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if rec.note(r) == 1 {
					dropAfter(t, w, body, 500000)
					return
				}
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				w.Write(body) // 200 with the whole file whatever Range says
			}
		}, nil, []string{"", "bytes=500000-"}, false},
		{"answers a different range", func(t *testing.T, rec *recorder) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				if rec.note(r) == 1 {
					w.Header().Set("Content-Range", "bytes 0-99/"+strconv.Itoa(len(body)))
					w.WriteHeader(http.StatusPartialContent)
					w.Write(body[:100])
					return
				}
				http.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(body))
			}
		}, body[:777], []string{"bytes=777-", ""}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorder{}
			srv := httptest.NewServer(c.server(t, rec))
			defer srv.Close()
			dest := filepath.Join(t.TempDir(), "sub", "file.bin")
			if c.partial != nil {
				writeFile(t, dest+".part", c.partial)
			}
			var last, lastTotal int64
			size := int64(len(body))
			if c.sizeUnknown {
				size = 0
			}
			got, err := fastDownloader(func(done, total int64) { last, lastTotal = done, total }).
				Download(context.Background(), srv.URL+"/f", dest, size, sum)
			if err != nil {
				t.Fatal(err)
			}
			if got != sum {
				t.Fatalf("returned hash %s, want %s", got, sum)
			}
			data, err := os.ReadFile(dest)
			if err != nil || !bytes.Equal(data, body) {
				t.Fatalf("file differs from the served bytes (%d vs %d bytes), %v", len(data), len(body), err)
			}
			if _, err := os.Stat(dest + ".part"); !os.IsNotExist(err) {
				t.Fatal(".part left behind")
			}
			if ranges := rec.seen(); strings.Join(ranges, ",") != strings.Join(c.wantRanges, ",") {
				t.Fatalf("Range headers %q, want %q", ranges, c.wantRanges)
			}
			if c.wantRanges != nil && !c.sizeUnknown && (last != int64(len(body)) || lastTotal != int64(len(body))) {
				t.Fatalf("last progress %d/%d, want %d/%d", last, lastTotal, len(body), len(body))
			}
		})
	}
}

func TestDownloadFailures(t *testing.T) {
	body, sum := payload(200000)
	t.Run("wrong bytes", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			bad := append([]byte(nil), body...)
			bad[1234] ^= 0xff
			w.Write(bad)
		}))
		defer srv.Close()
		dest := filepath.Join(t.TempDir(), "w.bin")
		_, err := fastDownloader(nil).Download(context.Background(), srv.URL, dest, int64(len(body)), sum)
		if !errors.Is(err, ErrHashMismatch) {
			t.Fatalf("%v, want ErrHashMismatch", err)
		}
		wantErr(t, err, dest, "expected SHA-256 "+sum, "got ")
		for _, p := range []string{dest, dest + ".part"} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Fatalf("%s exists after a hash mismatch", p)
			}
		}
	})
	t.Run("too many bytes", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write(append(body, 1, 2, 3))
		}))
		defer srv.Close()
		_, err := fastDownloader(nil).Download(context.Background(), srv.URL, filepath.Join(t.TempDir(), "x"), int64(len(body)), sum)
		if !errors.Is(err, ErrSizeMismatch) {
			t.Fatalf("%v, want ErrSizeMismatch", err)
		}
	})
	t.Run("not found is not retried", func(t *testing.T) {
		rec := &recorder{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec.note(r)
			http.NotFound(w, r)
		}))
		defer srv.Close()
		_, err := fastDownloader(nil).Download(context.Background(), srv.URL+"/gone", filepath.Join(t.TempDir(), "x"), 0, "")
		wantErr(t, err, "404", "/gone")
		if n := len(rec.seen()); n != 1 {
			t.Fatalf("%d requests, want 1", n)
		}
	})
	t.Run("server errors are retried then reported", func(t *testing.T) {
		rec := &recorder{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec.note(r)
			w.WriteHeader(http.StatusBadGateway)
		}))
		defer srv.Close()
		d := fastDownloader(nil)
		d.Retries = 2
		_, err := d.Download(context.Background(), srv.URL, filepath.Join(t.TempDir(), "x"), 0, "")
		wantErr(t, err, "502")
		if n := len(rec.seen()); n != 3 {
			t.Fatalf("%d requests, want 3", n)
		}
	})
	t.Run("always drops: keeps the part for later", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			dropAfter(t, w, body, 100)
		}))
		defer srv.Close()
		dest := filepath.Join(t.TempDir(), "x")
		d := fastDownloader(nil)
		d.Retries = -1
		_, err := d.Download(context.Background(), srv.URL, dest, int64(len(body)), sum)
		wantErr(t, err, "interrupted")
		if st, err := os.Stat(dest + ".part"); err != nil || st.Size() != 100 {
			t.Fatalf("part file: %v %v", st, err)
		}
	})
	t.Run("stalls", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body[:10])
			w.(http.Flusher).Flush()
			<-release
		}))
		defer srv.Close()
		defer close(release) // before Close, which waits for the handler
		d := fastDownloader(nil)
		d.Retries, d.StallTimeout = -1, 100*time.Millisecond
		_, err := d.Download(context.Background(), srv.URL, filepath.Join(t.TempDir(), "x"), 0, "")
		wantErr(t, err, "no data for 100ms")
	})
	t.Run("cancelled", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			dropAfter(t, w, body, 10)
		}))
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		d := &Downloader{RetryDelay: time.Hour, Progress: func(done, total int64) {
			if done > 0 {
				cancel()
			}
		}}
		_, err := d.Download(ctx, srv.URL, filepath.Join(t.TempDir(), "x"), 0, "")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%v, want context.Canceled", err)
		}
	})
	t.Run("disk full", func(t *testing.T) {
		if _, err := os.Stat("/dev/full"); err != nil {
			t.Skip("no /dev/full")
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
		defer srv.Close()
		dest := filepath.Join(t.TempDir(), "x")
		if err := os.Symlink("/dev/full", dest+".part"); err != nil {
			t.Skip(err)
		}
		_, err := fastDownloader(nil).Download(context.Background(), srv.URL, dest, 0, "")
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("%v, want ENOSPC", err)
		}
		wantErr(t, err, dest+".part")
	})
	t.Run("folder is a file", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "file"), []byte("x"))
		_, err := fastDownloader(nil).Download(context.Background(), "http://127.0.0.1:1/", filepath.Join(dir, "file", "x"), 0, "")
		wantErr(t, err, filepath.Join(dir, "file"))
	})
}

func TestParseContentRange(t *testing.T) {
	cases := []struct {
		in           string
		start, total int64
		ok           bool
	}{
		{"bytes 10-99/100", 10, 100, true},
		{"bytes 10-99/*", 10, -1, true},
		{"bytes */100", -1, 100, true},
		{"bytes x-1/2", 0, 0, false},
		{"items 1-2/3", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, c := range cases {
		s, tot, ok := parseContentRange(c.in)
		if s != c.start || tot != c.total || ok != c.ok {
			t.Errorf("parseContentRange(%q) = %d %d %v", c.in, s, tot, ok)
		}
	}
}
