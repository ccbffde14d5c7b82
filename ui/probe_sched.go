package ui

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// mainThreadSched returns how long the process's main thread (the UI
// thread) has run on a CPU and how long it has waited, ready, for one, from
// /proc/self/task/PID/schedstat; ok is false where that is not available
// (not Linux, or no schedstats).
func mainThreadSched() (run, wait time.Duration, ok bool) {
	pid := strconv.Itoa(os.Getpid())
	data, err := os.ReadFile("/proc/self/task/" + pid + "/schedstat")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0, 0, false
	}
	r, err1 := strconv.ParseInt(f[0], 10, 64)
	w, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return time.Duration(r), time.Duration(w), true
}

// loadAverage returns the system's one-minute load average, from
// /proc/loadavg; ok is false where that is not available.
func loadAverage() (float64, bool) {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return v, err == nil
}
