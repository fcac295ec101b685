package main

import (
	"cmp"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

func (rep *report) print(out io.Writer) {
	o := rep.opts
	fmt.Fprintf(out, "\noauthbroker-bench — %s, %d CPUs, %s; %s, concurrency %d, %s per test (+%s warm-up); load average before: %s\n\n",
		rep.startedAt.Format("2006-01-02 15:04 MST"), runtime.NumCPU(), runtime.Version(), rep.storeLabel, o.concurrency, o.duration, o.warmup, rep.loadavg)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "test\ttarget\treq/s\t× bare\tp50\tp90\tp99\tp99 × bare\tserver CPU/req\tfakes CPU/req\tserver ÷ fakes CPU\t÷ bare flow CPU\terrors\t")
	tests, rounds := rep.rounds()
	for _, test := range tests {
		p := rounds[test][medianRound(rounds[test])]
		for _, r := range []result{p.base, p.floor, p.subject} {
			if r.target == "" {
				continue // no baseline (or no bare flow) ran for this test
			}
			ratio, p99ratio, cpuRatio, overFloor := "", "", "", ""
			if r.target != p.base.target && p.base.n > 0 && r.n > 0 {
				ratio, p99ratio = fmt.Sprintf("%.2f", rateOver(r, p.base)), fmt.Sprintf("%.2f", p99Over(r, p.base))
			}
			if r.serverCPU > 0 && r.otherCPU > 0 {
				cpuRatio = fmt.Sprintf("%.2f", cpuOverFakes(r))
			}
			if r.target == p.subject.target && p.floor.n > 0 {
				overFloor = fmt.Sprintf("%.2f", p.overFloor())
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", r.test, r.target, r.rate(), ratio,
				ms(r.pct(0.50)), ms(r.pct(0.90)), ms(r.pct(0.99)), p99ratio, perReq(r.serverCPU, r.n), perReq(r.otherCPU, r.n), cpuRatio, overFloor, r.errs)
		}
	}
	_ = tw.Flush()
	if o.rounds > 1 {
		fmt.Fprintf(out, "\n%d rounds per test, each its baseline then the broker; the table shows each test's round with the median ratio:\n", o.rounds)
		for _, test := range tests {
			fmt.Fprintln(out, roundsLine(test, rounds[test]))
		}
	}
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
		fmt.Fprintf(out, "seeding %s: %s\n", seedMarker(o.n), rep.seedTook.Round(100*time.Millisecond))
	}
	fmt.Fprintln(out, strings.TrimSpace(`
For flows, "× bare" compares with the fake provider driven alone through the same steps;
server CPU/req is the server's CPU per flow, fakes CPU/req the fake provider's. The bare
flow answers the flow's requests with the broker's bytes and makes the same provider calls,
doing nothing else (no store, cookies, templates or sealing): its CPU over the fake's is the
floor of the flow's shape in net/http, and "÷ bare flow CPU" the broker's CPU per flow over it.`))
}

// pair is one round of a test: its baseline (the bare handler, or the fake provider alone),
// for flows the bare flow, and the broker measured right after them.
type pair struct{ base, floor, subject result }

// overFloor is the broker's CPU per flow over the bare flow's in the same round.
func (p pair) overFloor() float64 {
	if micros(p.floor.serverCPU, p.floor.n) == 0 {
		return 0
	}
	return micros(p.subject.serverCPU, p.subject.n) / micros(p.floor.serverCPU, p.floor.n)
}

// cpuOverFakes is a flow result's server CPU over the fake's in the same flows.
func cpuOverFakes(r result) float64 {
	if r.otherCPU == 0 {
		return 0
	}
	return float64(r.serverCPU) / float64(r.otherCPU)
}

// ratio is the round's figure for the test's target: for flows the broker's CPU over the
// fake's in the same flows, else the broker's req/s over the bare handler's.
func (p pair) ratio() float64 {
	if p.isFlow() {
		return cpuOverFakes(p.subject)
	}
	return p.rateRatio()
}

// rateRatio is the broker's req/s (flows/s) over the baseline's: the table's "× bare".
func (p pair) rateRatio() float64 { return rateOver(p.subject, p.base) }

func (p pair) p99Ratio() float64 { return p99Over(p.subject, p.base) }

// rateOver is r's req/s over base's; p99Over its p99 over base's.
func rateOver(r, base result) float64 {
	if base.n == 0 {
		return 0
	}
	return r.rate() / base.rate()
}

func p99Over(r, base result) float64 {
	if base.pct(0.99) == 0 {
		return 0
	}
	return float64(r.pct(0.99)) / float64(base.pct(0.99))
}

// rounds pairs each baseline (and bare flow) with the broker run after it, by test, the
// tests in the order they ran.
func (rep *report) rounds() (tests []string, byTest map[string][]pair) {
	byTest = map[string][]pair{}
	var base, floor result
	for _, r := range rep.results {
		switch r.target {
		case "bare", "fake alone":
			base = r
			continue
		case bareFlowTarget:
			floor = r
			continue
		}
		if _, seen := byTest[r.test]; !seen {
			tests = append(tests, r.test)
		}
		if base.test != r.test || base.round != r.round {
			base = result{test: r.test, round: r.round} // no baseline ran: no ratio
		}
		p := pair{base: base, subject: r}
		if floor.test == r.test && floor.round == r.round {
			p.floor = floor
		}
		byTest[r.test] = append(byTest[r.test], p)
	}
	return tests, byTest
}

// bareFlowTarget names the bare flow's rows.
const bareFlowTarget = "bare flow+fake"

// isFlow tells a round of a flow test, whose figure is the broker's CPU over the fake's.
func (p pair) isFlow() bool { return p.subject.serverCPU > 0 && p.subject.otherCPU > 0 }

// medianRound is the index of the round whose ratio is the median. For an even number of
// rounds it is the worse of the two middle ones: the lower × bare, the higher CPU ratio.
func medianRound(rounds []pair) int {
	order := make([]int, len(rounds))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rounds[a].ratio(), rounds[b].ratio()) })
	return order[middle(len(order), !rounds[0].isFlow())]
}

// middle is the index of the median in n sorted values; for an even n, the worse of the two
// middle ones: the lower when a higher value is better, else the higher.
func middle(n int, higherIsBetter bool) int {
	if higherIsBetter {
		return (n - 1) / 2
	}
	return n / 2
}

// roundsLine lists a test's ratio in every round, in the order they ran, with their median,
// smallest and largest, and the same for the p99 ratio where there is one (not for flows).
func roundsLine(test string, rounds []pair) string {
	flows := rounds[0].isFlow()
	what := "× bare"
	if flows {
		what = "server ÷ fakes CPU"
	}
	ratios := make([]float64, len(rounds))
	p99s := make([]float64, len(rounds))
	for i, p := range rounds {
		ratios[i], p99s[i] = p.ratio(), p.p99Ratio()
	}
	line := fmt.Sprintf("  %s: %s %s", test, what, spread(ratios, !flows))
	if !flows {
		return line + "; p99 × bare " + spread(p99s, false)
	}
	floors, over := make([]float64, 0, len(rounds)), make([]float64, 0, len(rounds))
	for _, p := range rounds {
		if p.floor.n > 0 {
			floors, over = append(floors, cpuOverFakes(p.floor)), append(over, p.overFloor())
		}
	}
	if len(floors) > 0 {
		line += "; bare flow ÷ fakes CPU " + spread(floors, false) + "; broker ÷ bare flow CPU " + spread(over, false)
	}
	// The ratio's two sides, round by round: the fake's CPU per flow moves with its load.
	line += "; µs per flow, broker/fake:"
	for _, p := range rounds {
		line += fmt.Sprintf(" %.0f/%.0f", micros(p.subject.serverCPU, p.subject.n), micros(p.subject.otherCPU, p.subject.n))
	}
	return line
}

// spread is "a b c (median b, b–c)": the values in order, then their median (middle) and
// range.
func spread(v []float64, higherIsBetter bool) string {
	var b strings.Builder
	for i, x := range v {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.2f", x)
	}
	sorted := slices.Sorted(slices.Values(v))
	fmt.Fprintf(&b, " (median %.2f, %.2f–%.2f)", sorted[middle(len(sorted), higherIsBetter)], sorted[0], sorted[len(sorted)-1])
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func perReq(cpu time.Duration, n int) string {
	if cpu == 0 || n == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f µs", micros(cpu, n))
}

// micros is cpu per request in microseconds; 0 when there was no request.
func micros(cpu time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(cpu) / float64(time.Microsecond) / float64(n)
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
