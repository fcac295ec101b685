package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// measured is a result of n requests in one second, all of them taking lat, and cpu of the
// process under test (and other, the fake's, for flows).
func measured(test, target string, round, n int, lat, cpu, other time.Duration) result {
	lats := make([]time.Duration, n)
	for i := range lats {
		lats[i] = lat
	}
	return result{test: test, target: target, round: round, n: n, elapsed: time.Second, lat: lats,
		serverCPU: cpu, otherCPU: other}
}

// printed is the report of results over rounds rounds.
func printed(rounds int, results ...result) string {
	rep := &report{opts: options{concurrency: 64, duration: time.Second, rounds: rounds}, startedAt: time.Now(), results: results}
	var out bytes.Buffer
	rep.print(&out)
	return out.String()
}

// TestReportShowsTheMedianRound runs the report over three rounds of a read test and of a
// flow, each round's figures different: the table shows the round with the median ratio, and
// the rounds' lines list every round in the order they ran.
func TestReportShowsTheMedianRound(t *testing.T) {
	ms := time.Millisecond
	var results []result
	// GET credentials: × bare 0.50, 0.70, 0.60 → the median is round 3 (broker 600 req/s).
	for i, b := range []int{500, 700, 600} {
		results = append(results,
			measured("GET credentials", "bare", i+1, 1000, 2*ms, 0, 0),
			measured("GET credentials", "broker", i+1, b, 3*ms+time.Duration(i)*ms, 0, 0))
	}
	// OAuth 2 flows: server ÷ fakes CPU 5.00, 4.00, 6.00 → the median is round 1.
	for i, cpu := range []time.Duration{500, 400, 600} {
		results = append(results,
			measured("link flow, OAuth 2", "fake alone", i+1, 4000, ms, 0, 100*ms),
			measured("link flow, OAuth 2", "broker+fake", i+1, 700+i, 90*ms, cpu*ms, 100*ms))
	}
	text := printed(3, results...)

	rows := tableRows(text)
	row := func(test, target string) []string {
		cells, ok := rows[[2]string{test, target}]
		if !ok {
			t.Fatalf("no row for %s → %s in\n%s", test, target, text)
		}
		return cells
	}
	if got := row("GET credentials", "broker"); got[0] != "600" || got[1] != "0.60" || got[5] != "2.50" {
		t.Errorf("the credentials row is not round 3's (600 req/s, 0.60 × bare, p99 5 ms over 2 ms): %q", got)
	}
	if got := row("GET credentials", "bare"); got[0] != "1000" || got[1] != "" {
		t.Errorf("the bare handler's row: %q", got)
	}
	if got := row("link flow, OAuth 2", "broker+fake"); got[0] != "700" || got[1] != "0.17" || got[8] != "5.00" {
		t.Errorf("the flow row is not round 1's (700 flows/s, 0.17 × the fake alone, 5.00 × its CPU): %q", got)
	}
	for _, want := range []string{
		"3 rounds per test",
		"  GET credentials: × bare 0.50 0.70 0.60 (median 0.60, 0.50–0.70); p99 × bare 1.50 2.00 2.50 (median 2.00, 1.50–2.50)\n",
		"  link flow, OAuth 2: server ÷ fakes CPU 5.00 4.00 6.00 (median 5.00, 4.00–6.00); µs per flow, broker/fake: 714/143 571/143 855/142\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the report lacks %q:\n%s", want, text)
		}
	}
}

// TestReportOfOneRound keeps the report of a single round as it always was: the table, no
// rounds' lines.
func TestReportOfOneRound(t *testing.T) {
	text := printed(1,
		measured("POST links", "bare", 1, 1000, time.Millisecond, 0, 0),
		measured("POST links", "broker", 1, 450, 2*time.Millisecond, 0, 0))
	if got := tableRows(text)[[2]string{"POST links", "broker"}]; len(got) < 2 || got[1] != "0.45" {
		t.Errorf("the broker's row: %q, want 0.45 × bare\n%s", got, text)
	}
	if strings.Contains(text, "rounds per test") {
		t.Errorf("a single round lists its rounds:\n%s", text)
	}
}

// TestMedianRoundOfAnEvenNumber takes the worse of the two middle rounds: the lower × bare,
// and for flows the higher CPU ratio.
func TestMedianRoundOfAnEvenNumber(t *testing.T) {
	var reads, flows []pair
	for i, rate := range []int{700, 400, 600, 500} {
		reads = append(reads, pair{
			base:    measured("t", "bare", i+1, 1000, time.Millisecond, 0, 0),
			subject: measured("t", "broker", i+1, rate, time.Millisecond, 0, 0),
		})
		flows = append(flows, pair{
			base:    measured("f", "fake alone", i+1, 1000, time.Millisecond, 0, time.Second),
			subject: measured("f", "broker+fake", i+1, 100, time.Millisecond, time.Duration(rate)*time.Second, 100*time.Second),
		})
	}
	if got := medianRound(reads); got != 3 { // 0.50, the lower of 0.50 and 0.60
		t.Errorf("medianRound of reads = %d (ratio %.2f), want 3 (0.50)", got, reads[got].ratio())
	}
	if got := medianRound(flows); got != 2 { // 6.00, the higher of 5.00 and 6.00
		t.Errorf("medianRound of flows = %d (ratio %.2f), want 2 (6.00)", got, flows[got].ratio())
	}
	if got := spread([]float64{1.5, 1.2, 1.4, 1.3}, false); got != "1.50 1.20 1.40 1.30 (median 1.40, 1.20–1.50)" {
		t.Errorf("spread of p99 ratios = %q", got)
	}
}

// TestReportWithoutBaseline: a broker result with no baseline of its own test and round
// before it gets no ratio, rather than one against another test's baseline.
func TestReportWithoutBaseline(t *testing.T) {
	text := printed(1,
		measured("GET credentials", "bare", 1, 1000, time.Millisecond, 0, 0),
		measured("POST links", "broker", 1, 450, 2*time.Millisecond, 0, 0))
	rows := tableRows(text)
	if _, ok := rows[[2]string{"GET credentials", "bare"}]; ok {
		t.Errorf("a baseline with no broker result is in the table:\n%s", text)
	}
	if cells, ok := rows[[2]string{"POST links", "broker"}]; !ok || cells[1] != "" {
		t.Errorf("POST links: %q (in the table: %v), want its row without a ratio:\n%s", cells, ok, text)
	}
}

// tableRows is the report's table by test and target: each row's cells after those two
// (req/s, × bare, p50, p90, p99, p99 × bare, server CPU/req, fakes CPU/req, server ÷ fakes
// CPU, ÷ bare flow CPU, errors), trimmed.
func tableRows(text string) map[[2]string][]string {
	rows := map[[2]string][]string{}
	for line := range strings.Lines(text) {
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows[[2]string{cells[0], cells[1]}] = cells[2:]
	}
	return rows
}

// TestReportOfTheBareFlow: each flow round's bare flow shows on its own row between the fake
// alone and the broker, with its CPU over the fake's, and the broker's row gives its CPU per
// flow over the bare flow's from the same round.
func TestReportOfTheBareFlow(t *testing.T) {
	ms := time.Millisecond
	var results []result
	// Broker ÷ fakes CPU 5.00, 3.00, 4.00 → the median is round 3. The bare flow: 2,000
	// flows, 400 ms of its CPU (200 µs per flow) against the fake's 200, 300 and 400 ms in
	// rounds 1–3: 2.00, 1.33, 1.00; the broker in round 3: 1,000 flows, 400 ms (400 µs per
	// flow), 2.00 × the bare flow's per flow.
	for i, cpu := range []time.Duration{500, 300, 400} {
		results = append(results,
			measured("link flow, OAuth 2", "fake alone", i+1, 4000, ms, 0, 100*ms),
			measured("link flow, OAuth 2", bareFlowTarget, i+1, 2000, 20*ms, 400*ms, 200*ms+time.Duration(i)*100*ms),
			measured("link flow, OAuth 2", "broker+fake", i+1, 1000, 50*ms, cpu*ms, 100*ms))
	}
	text := printed(3, results...)
	rows := tableRows(text)
	floor, ok := rows[[2]string{"link flow, OAuth 2", bareFlowTarget}]
	if !ok {
		t.Fatalf("no bare flow row:\n%s", text)
	}
	// Round 3's bare flow: 2,000 flows/s against the fake's 4,000 (0.50), p99 20 ms over 1 ms,
	// 200 µs per flow, the fake 200 µs, its CPU over the fake's 400/400 = 1.00.
	if floor[0] != "2000" || floor[1] != "0.50" || floor[5] != "20.00" || floor[6] != "200 µs" || floor[8] != "1.00" || floor[9] != "" {
		t.Errorf("the bare flow row is not round 3's: %q\n%s", floor, text)
	}
	broker := rows[[2]string{"link flow, OAuth 2", "broker+fake"}]
	if len(broker) < 10 || broker[8] != "4.00" || broker[9] != "2.00" {
		t.Errorf("the broker row: %q, want round 3's 4.00 × the fake's CPU and 2.00 × the bare flow's\n%s", broker, text)
	}
	want := "  link flow, OAuth 2: server ÷ fakes CPU 5.00 3.00 4.00 (median 4.00, 3.00–5.00); " +
		"bare flow ÷ fakes CPU 2.00 1.33 1.00 (median 1.33, 1.00–2.00); broker ÷ bare flow CPU 2.50 1.50 2.00 (median 2.00, 1.50–2.50); " +
		"µs per flow, broker/fake: 500/100 300/100 400/100\n"
	if !strings.Contains(text, want) {
		t.Errorf("the rounds line lacks the bare flow's figures; want\n%s\nin\n%s", want, text)
	}
}
