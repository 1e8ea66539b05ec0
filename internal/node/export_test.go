package node

import (
	"context"
	"time"
)

// FlushInterval is ffldb's cache flush interval for n's database: its
// normal value (300 s) between flushes.
func FlushInterval(n *Node) time.Duration { return *n.flusher.interval }

// SetTestMethod registers an RPC method for a test, before any node
// serves; the returned func removes it.
func SetTestMethod(name string, fn func(ctx context.Context) (any, error)) (remove func()) {
	methods[name] = method{fn: func(ctx context.Context, _ *Node, _ params) (any, error) { return fn(ctx) }}
	return func() { delete(methods, name) }
}
