package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

func (rep *report) print(out io.Writer) {
	o := rep.opts
	fmt.Fprintf(out, "\noauthbroker-bench — %s, %d CPUs, %s; %s, concurrency %d, %s per test (+%s warm-up); load average before: %s\n\n",
		rep.startedAt.Format("2006-01-02 15:04 MST"), runtime.NumCPU(), runtime.Version(), rep.storeLabel, o.concurrency, o.duration, o.warmup, rep.loadavg)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "test\ttarget\treq/s\t× bare\tp50\tp90\tp99\tp99 × bare\tserver CPU/req\tfakes CPU/req\tserver ÷ fakes CPU\terrors\t")
	var bare result
	for _, r := range rep.results {
		ratio, p99ratio := "", ""
		switch r.target {
		case "bare", "fake alone":
			bare = r
		default:
			if bare.test == r.test && bare.n > 0 {
				ratio = fmt.Sprintf("%.2f", r.rate()/bare.rate())
				p99ratio = fmt.Sprintf("%.2f", float64(r.pct(0.99))/float64(bare.pct(0.99)))
			}
		}
		cpuRatio := ""
		if r.serverCPU > 0 && r.otherCPU > 0 {
			cpuRatio = fmt.Sprintf("%.2f", float64(r.serverCPU)/float64(r.otherCPU))
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", r.test, r.target, r.rate(), ratio,
			ms(r.pct(0.50)), ms(r.pct(0.90)), ms(r.pct(0.99)), p99ratio, perReq(r.serverCPU, r.n), perReq(r.otherCPU, r.n), cpuRatio, r.errs)
	}
	_ = tw.Flush()
	fmt.Fprintf(out, "\nbroker peak RSS (VmHWM): %.1f MB after the read tests, %.1f MB at the end (bare handler: %.1f MB)\n",
		mb(rep.rssRead), mb(rep.rssEnd), mb(rep.bareRSS))
	fmt.Fprintf(out, "broker start-up on the existing store (exec to /readyz answering 200): %s\n", ms(rep.startup))
	if rep.fillTook > 0 {
		fmt.Fprintf(out, "filling the store with %d Twitter link flows: %s\n", o.n, rep.fillTook.Round(100*time.Millisecond))
	}
	if rep.warmTook > 0 {
		fmt.Fprintf(out, "store read into the OS page cache before the read tests: %.0f MB in %s\n", mb(rep.warmed), rep.warmTook.Round(time.Millisecond))
	}
	if rep.seedTook > 0 {
		fmt.Fprintf(out, "seeding %d identities: %s\n", o.n, rep.seedTook.Round(100*time.Millisecond))
	}
	fmt.Fprintln(out, strings.TrimSpace(`
For flows, "× bare" compares with the fake provider driven alone through the same steps;
server CPU/req is the broker's CPU per flow, fakes CPU/req the fake provider's.`))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func perReq(cpu time.Duration, n int) string {
	if cpu == 0 || n == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f µs", float64(cpu)/float64(time.Microsecond)/float64(n))
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
