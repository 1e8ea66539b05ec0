package node

import "time"

// FlushInterval is ffldb's cache flush interval for n's database: its
// normal value (300 s) between flushes.
func FlushInterval(n *Node) time.Duration { return *n.flusher.interval }
