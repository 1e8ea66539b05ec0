// Package stratum is the Stratum v1 wire format used between the hashfleet
// miner server (package pool) and its workers (package miner), and between a
// worker and any public Stratum v1 pool.
//
// It holds the message envelopes (Message, Request, Response, Notification),
// the error shapes ([code, msg, traceback] and ckpool's result:false plus
// "reject-reason"), typed parameters for every method in use, and a
// newline-delimited JSON codec (Reader, Writer) that enforces MaxLineLen.
// It opens no sockets and starts no goroutines.
//
// Byte orders follow the rest of hashfleet: every [32]byte hash is in
// Bitcoin's internal order (raw SHA-256d output order). Notify.PrevHash is
// converted from the word-swapped Stratum form on decode and back on encode,
// so callers never see the Stratum form. Integers sent as 8 hex digits
// (version, nbits, ntime, nonce, version bits, masks) are big-endian on the
// wire and plain uint32 values here.
//
// Decoders are strict about what they accept and never panic on any input:
// a bad parameter yields a *ParamError naming the method and field, which
// wraps ErrInvalidParams. A malformed or oversized line yields an error
// wrapping ErrMalformed or ErrLineTooLong; after either the Reader is
// positioned at the next line, so a connection may stay in use.
package stratum
