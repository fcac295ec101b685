// Package retain bounds what a long-running fake provider remembers (the codes, tokens and
// calls it hands out or logs), so that a load test of hours does not grow it without end.
// Of each kind it keeps the newest n to 2n entries and forgets the rest, oldest first; the
// trimming runs once per n new entries, a constant cost per entry. n of zero keeps
// everything, as tests that inspect every entry need.
package retain

// Remember records key, just added to m, as m's newest entry in order, the keys of m in the
// order they were added. Once order holds 2n keys it deletes all but the newest n from m.
// It returns the new order; with n of zero it keeps nothing and returns nil, and m keeps
// every key.
func Remember[V any](m map[string]V, order []string, key string, n int) []string {
	if n <= 0 {
		return nil
	}
	order = append(order, key)
	if len(order) >= 2*n {
		for _, k := range order[:len(order)-n] {
			delete(m, k)
		}
	}
	return Newest(order, n)
}

// Newest is log cut to its newest n entries once it holds 2n, reusing its array; log as it
// is otherwise, and always when n is zero.
func Newest[T any](log []T, n int) []T {
	if n > 0 && len(log) >= 2*n {
		return append(log[:0], log[len(log)-n:]...)
	}
	return log
}
