package ui

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"fyne.io/fyne/v2"
)

// probeInterval is how often the latency probe posts a callback.
const probeInterval = 20 * time.Millisecond

// LatencyStats summarise how long callbacks posted with fyne.Do waited
// before the UI goroutine ran them: the studio's responsiveness.
type LatencyStats struct {
	// Samples is the number of callbacks measured.
	Samples int `json:"samples"`
	// IntervalMS is the time between two posted callbacks.
	IntervalMS float64 `json:"interval_ms"`
	// P50MS, P95MS and MaxMS are the median, the 95th percentile and the
	// longest wait, in milliseconds (nearest-rank percentiles).
	P50MS float64 `json:"p50_ms"`
	P95MS float64 `json:"p95_ms"`
	MaxMS float64 `json:"max_ms"`
	// During says what the engine was doing, e.g. "stylize 512 px".
	During string `json:"during,omitempty"`
	// UIThreadCPUMS and UIThreadWaitMS are how long the UI thread ran,
	// and waited ready for a CPU, while the probe measured (Linux only):
	// a long wait means other threads or processes held the CPUs.
	UIThreadCPUMS  float64 `json:"ui_thread_cpu_ms,omitempty"`
	UIThreadWaitMS float64 `json:"ui_thread_wait_ms,omitempty"`
	// LoadAverage is the system's one-minute load average when the
	// statistics were written, and CPUs the number of CPUs, for judging
	// the numbers on a shared machine.
	LoadAverage float64 `json:"load_average,omitempty"`
	CPUs        int     `json:"cpus,omitempty"`
}

// latencyStats computes the statistics of samples (in any order).
func latencyStats(samples []time.Duration) LatencyStats {
	st := LatencyStats{Samples: len(samples), IntervalMS: ms(probeInterval)}
	if len(samples) == 0 {
		return st
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	st.P50MS = ms(percentile(sorted, 50))
	st.P95MS = ms(percentile(sorted, 95))
	st.MaxMS = ms(sorted[len(sorted)-1])
	return st
}

// percentile returns the nearest-rank p-th percentile of sorted (ascending,
// not empty): the smallest sample with at least p percent of the samples
// at or below it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

// latencyProbe measures the delay of fyne.Do callbacks while the engine
// works: every probeInterval it posts a callback that notes how long it
// waited, counted when busy (asked on the UI goroutine) reports a job
// running. After measuring for span it writes its statistics as JSON to a
// file (or when the window closes, if that comes first).
type latencyProbe struct {
	path string                // where the JSON goes
	span time.Duration         // how long to measure; 0: until the window closes
	post func(func())          // fyne.Do outside tests
	busy func() (bool, string) // whether a job runs, and what it does; UI goroutine

	mu       sync.Mutex
	samples  []time.Duration
	waiting  map[int]time.Time // callbacks posted and not yet run
	posted   int               // callbacks posted so far
	first    time.Time         // when the first sample was taken
	run0     time.Duration     // the UI thread's CPU time then
	wait0    time.Duration     // and its time waiting for a CPU
	schedOK  bool              // run0 and wait0 were read
	during   string
	written  bool
	stop     chan struct{} // closed to end the probe's goroutine
	stopOnce sync.Once
}

// newLatencyProbe makes a probe that writes to path after measuring for
// span (0: until close). Start its goroutine with run.
func newLatencyProbe(path string, span time.Duration, post func(func()), busy func() (bool, string)) *latencyProbe {
	return &latencyProbe{path: path, span: span, post: post, busy: busy,
		waiting: map[int]time.Time{}, stop: make(chan struct{})}
}

// run posts callbacks until close, or until the probe has measured for its
// span and written its file.
func (p *latencyProbe) run() {
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		full := p.span > 0 && !p.first.IsZero() && time.Since(p.first) >= p.span
		id, at := p.posted, time.Now()
		if !full {
			p.posted++
			p.waiting[id] = at
		}
		p.mu.Unlock()
		if full {
			if err := p.write(); err != nil {
				fyne.LogError("latency probe", err)
			}
			return
		}
		p.post(func() { p.ran(id, at) })
	}
}

// ran records callback id, posted at at, unless no job runs. UI goroutine.
func (p *latencyProbe) ran(id int, at time.Time) {
	waited := time.Since(at)
	on, what := p.busy()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.waiting[id]; !ok {
		return // written already
	}
	delete(p.waiting, id)
	if !on {
		return
	}
	if p.first.IsZero() {
		p.first = at
		p.run0, p.wait0, p.schedOK = mainThreadSched()
	}
	p.during = what
	p.samples = append(p.samples, waited)
}

// stats returns the statistics of the samples so far. Once measuring has
// begun, a callback still waiting counts with its wait so far, so a stalled
// UI goroutine shows.
func (p *latencyProbe) stats() LatencyStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.statsLocked()
}

func (p *latencyProbe) statsLocked() LatencyStats {
	samples := slices.Clone(p.samples)
	if !p.first.IsZero() {
		for _, at := range p.waiting {
			if at.After(p.first) {
				samples = append(samples, time.Since(at))
			}
		}
	}
	st := latencyStats(samples)
	st.During = p.during
	if run, wait, ok := mainThreadSched(); ok && p.schedOK {
		st.UIThreadCPUMS, st.UIThreadWaitMS = ms(run-p.run0), ms(wait-p.wait0)
	}
	st.LoadAverage, _ = loadAverage()
	st.CPUs = runtime.NumCPU()
	return st
}

// write writes the statistics to the probe's file, once; later calls do
// nothing.
func (p *latencyProbe) write() error {
	p.mu.Lock()
	if p.written {
		p.mu.Unlock()
		return nil
	}
	st := p.statsLocked()
	p.written = true
	p.waiting = map[int]time.Time{} // callbacks that run later are not counted
	p.mu.Unlock()
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("ui: latency probe: %w", err)
	}
	tmp := p.path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("ui: latency probe: %w", err)
	}
	if err := os.Rename(tmp, p.path); err != nil {
		return fmt.Errorf("ui: latency probe: writing %s: %w", filepath.Base(p.path), err)
	}
	return nil
}

// close ends the probe's goroutine and writes the statistics if they
// were not written yet.
func (p *latencyProbe) close() error {
	p.stopOnce.Do(func() { close(p.stop) })
	return p.write()
}
