package ui

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1 // 1..100 ms
	}
	for _, tc := range []struct {
		name          string
		samples       []time.Duration
		p50, p95, max float64
	}{
		{"one sample", ms(7), 7, 7, 7},
		{"1 to 100 ms", ms(hundred...), 50, 95, 100},
		{"unsorted with an outlier", ms(3, 1, 2, 900, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19), 10, 19, 900},
		{"two samples", ms(10, 20), 10, 20, 20},
		{"none", nil, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := latencyStats(tc.samples)
			if st.Samples != len(tc.samples) || st.P50MS != tc.p50 || st.P95MS != tc.p95 || st.MaxMS != tc.max {
				t.Errorf("stats %+v, want %d samples, p50 %v, p95 %v, max %v", st, len(tc.samples), tc.p50, tc.p95, tc.max)
			}
		})
	}
	// Shuffling changes nothing.
	shuffled := ms(hundred...)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if st := latencyStats(shuffled); st.P95MS != 95 || st.P50MS != 50 {
		t.Errorf("shuffled: %+v", st)
	}
}

// TestLatencyProbe drives the probe with a fake UI loop that runs posted
// callbacks after a set delay, only while a job is said to run.
func TestLatencyProbe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "probe.json")
	var mu sync.Mutex
	busy := false
	delay := 30 * time.Millisecond
	post := func(f func()) { time.AfterFunc(delay, f) }
	p := newLatencyProbe(path, 400*time.Millisecond, post, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return busy, "stylize 512 px"
	})
	go p.run()
	time.Sleep(100 * time.Millisecond) // idle: nothing measured
	if st := p.stats(); st.Samples != 0 {
		t.Fatalf("measured %d samples while no job ran", st.Samples)
	}
	mu.Lock()
	busy = true
	mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the probe never wrote its file")
		}
		time.Sleep(10 * time.Millisecond)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st LatencyStats
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("probe file %s: %v", data, err)
	}
	// About 400 ms at one post every 20 ms.
	if st.Samples < 5 || st.Samples > 30 {
		t.Errorf("%d samples, want about 20", st.Samples)
	}
	if st.P50MS < 30 || st.P95MS < st.P50MS || st.MaxMS < st.P95MS || st.MaxMS > 1000 {
		t.Errorf("stats %+v, want p50 >= the 30 ms delay and p50 <= p95 <= max", st)
	}
	if st.During != "stylize 512 px" || st.IntervalMS != 20 {
		t.Errorf("stats %+v", st)
	}
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(path)
	if string(again) != string(data) {
		t.Error("close rewrote the file written already")
	}
}

// TestLatencyProbeCountsStalledCallbacks: a callback that has not run when
// the file is written counts with its wait so far.
func TestLatencyProbeCountsStalledCallbacks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "probe.json")
	var mu sync.Mutex
	ran := 0
	var stalledAt time.Time
	stalled := make(chan struct{})
	post := func(f func()) {
		mu.Lock()
		defer mu.Unlock()
		if ran < 3 {
			ran++
			go f()
			return
		}
		if stalledAt.IsZero() {
			stalledAt = time.Now()
		}
		go func() { <-stalled; f() }() // the UI goroutine stops
	}
	p := newLatencyProbe(path, 0, post, func() (bool, string) { return true, "" })
	go p.run()
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	stall := time.Since(stalledAt)
	mu.Unlock()
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	close(stalled)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st LatencyStats
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	if st.Samples < 5 || st.MaxMS < ms(stall) {
		t.Errorf("stats %+v: the stalled callbacks should count, the oldest waiting at least %v", st, stall)
	}
}

func TestMainThreadSched(t *testing.T) {
	if _, err := os.Stat("/proc/self/schedstat"); err != nil {
		t.Skip("no /proc schedstat here")
	}
	run, _, ok := mainThreadSched()
	if !ok || run <= 0 {
		t.Errorf("main thread ran %v (ok %v), want a positive time", run, ok)
	}
	if l, ok := loadAverage(); !ok || l < 0 {
		t.Errorf("load average %v (ok %v)", l, ok)
	}
}
