package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// worker is one load generator client: a goroutine with its own random source, sending one
// request at a time over the target's keep-alive connections.
type worker struct {
	id     int
	i      int // requests this worker started, warm-up included
	rng    *rand.Rand
	client *http.Client
}

// op is one request (or one whole flow): it fails on any answer other than the expected one.
type op func(ctx context.Context, w *worker) error

// result is one test against one target.
type result struct {
	test, target string
	round        int // 1 … -rounds
	n, errs      int
	firstErr     error
	elapsed      time.Duration
	lat          []time.Duration // sorted
	serverCPU    time.Duration   // of the process under test, during the measured time
	otherCPU     time.Duration   // of the fake providers' process, for flows
}

func (r result) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))]
}

// newClient is a keep-alive client with a connection per worker.
func newClient(concurrency int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			MaxIdleConns: 4 * concurrency, MaxIdleConnsPerHost: 2 * concurrency,
			IdleConnTimeout: time.Minute, DisableCompression: true,
		},
		Timeout: 30 * time.Second,
	}
}

// drive runs op from concurrency workers for warmup (not recorded), then for d, recording
// each call's latency. pids are the processes whose CPU time the result reports: the server
// under test, then (optionally) another.
func drive(ctx context.Context, client *http.Client, concurrency int, warmup, d time.Duration, do op, pids ...int) result {
	workers := make([]*worker, concurrency)
	for i := range workers {
		workers[i] = &worker{id: i, rng: rand.New(rand.NewPCG(uint64(i)+1, uint64(time.Now().UnixNano()))), client: client}
	}
	phase := func(d time.Duration, record bool) (lat [][]time.Duration, errs int, firstErr error) {
		ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
		defer cancel()
		deadline := time.Now().Add(d)
		lat = make([][]time.Duration, concurrency)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Go(func() {
				var mine []time.Duration
				for time.Now().Before(deadline) && ctx.Err() == nil {
					w.i++
					t0 := time.Now()
					err := do(ctx, w)
					took := time.Since(t0)
					if err != nil {
						mu.Lock()
						errs++
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						continue
					}
					if record {
						mine = append(mine, took)
					}
				}
				lat[w.id] = mine
			})
		}
		wg.Wait()
		return lat, errs, firstErr
	}
	if warmup > 0 {
		phase(warmup, false)
	}
	cpuBefore := cpus(pids)
	began := time.Now()
	lat, errs, firstErr := phase(d, true)
	elapsed := time.Since(began)
	cpuAfter := cpus(pids)
	r := result{errs: errs, firstErr: firstErr, elapsed: elapsed}
	for _, l := range lat {
		r.lat = append(r.lat, l...)
	}
	slices.Sort(r.lat)
	r.n = len(r.lat)
	if len(pids) > 0 {
		r.serverCPU = cpuAfter[0] - cpuBefore[0]
	}
	if len(pids) > 1 {
		r.otherCPU = cpuAfter[1] - cpuBefore[1]
	}
	return r
}

func cpus(pids []int) []time.Duration {
	out := make([]time.Duration, len(pids))
	for i, pid := range pids {
		out[i], _ = cpu(pid)
	}
	return out
}

// expect reads resp's body and checks its status.
func expect(resp *http.Response, err error, status int) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != status {
		return body, fmt.Errorf("%s %s: status %d, want %d: %.300s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, body)
	}
	return body, nil
}
