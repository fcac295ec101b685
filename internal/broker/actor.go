package broker

import "context"

// actorKey marks a request made by someone other than a bot, for the history events it records.
type actorKey struct{}

// ByOperator marks ctx as an operator's request (the admin pages), so that the history an
// Unlink records says "unlinked by an operator" rather than "through the bot API". It travels
// in the context, like the caller's deadline, because it describes who asks, not what is
// asked: Unlink stays one method for both callers, revocation and webhook included.
func ByOperator(ctx context.Context) context.Context {
	return context.WithValue(ctx, actorKey{}, "by an operator")
}

// actor is how a history event names who asked for the change.
func actor(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok {
		return a
	}
	return "through the bot API"
}
