// Package netpoll lets a server hold many idle connections without a
// goroutine each: a Conn reads and writes without blocking and says, once,
// when it has input (OnReadable). A goroutine is then needed only while a
// connection has something to read or to send.
//
// Wrap gives TCP connections on Linux an epoll readiness loop of their own
// (one per CPU, each one goroutine, next to the Go runtime's netpoller
// which still serves blocking reads and writes of the same sockets); Pipe
// is an in-memory connection pair with the same contract (no file
// descriptor: for measuring a server past the open-file limit); any other
// net.Conn is wrapped with one reader goroutine, as without this package.
package netpoll
