package stratum

import (
	"errors"
	"strconv"
)

//go:generate go tool stringer -type=RejectKind -linecomment -output=rejectkind_string.go

// RejectKind is why a share (mining.submit) was refused. It is the one
// vocabulary of rejections: package job decides the kind, package pool
// sends it, package miner reads it back. The kind's String is the metric
// label and stats key, Code the Stratum error code on the wire, and
// RejectError.Message the text for the worker and the logs.
type RejectKind uint8

// Rejection kinds, in no particular order. The line comment is the label.
const (
	RejectOther         RejectKind = iota // other
	RejectInternal                        // internal_error
	RejectBadParams                       // invalid_params
	RejectExtranonce                      // bad_extranonce2
	RejectNTime                           // bad_ntime
	RejectVersion                         // bad_version
	RejectJobNotFound                     // job_not_found
	RejectStale                           // stale
	RejectDuplicate                       // duplicate
	RejectLowDifficulty                   // low_difficulty
	RejectUnauthorized                    // unauthorized
	RejectNotSubscribed                   // not_subscribed
	numRejectKinds
)

// rejectKinds holds each kind's Stratum code and default message.
var rejectKinds = [numRejectKinds]struct {
	code int
	text string
}{
	RejectOther:         {ErrOther, "rejected"},
	RejectInternal:      {ErrOther, "internal error: share not checked, please resubmit"},
	RejectBadParams:     {ErrOther, "invalid params"},
	RejectExtranonce:    {ErrOther, "invalid extranonce2 length"},
	RejectNTime:         {ErrOther, "ntime out of range"},
	RejectVersion:       {ErrOther, "version bits outside the negotiated mask"},
	RejectJobNotFound:   {ErrJobNotFound, "job not found"},
	RejectStale:         {ErrJobNotFound, "stale job"},
	RejectDuplicate:     {ErrDuplicate, "duplicate share"},
	RejectLowDifficulty: {ErrLowDifficulty, "low difficulty share"},
	RejectUnauthorized:  {ErrUnauthorized, "unauthorized worker"},
	RejectNotSubscribed: {ErrNotSubscribed, "not subscribed"},
}

// Code is the Stratum error code sent for k (ErrOther for an unknown kind).
func (k RejectKind) Code() int {
	if k < numRejectKinds {
		return rejectKinds[k].code
	}
	return ErrOther
}

// RejectError is a share rejection. Values are immutable once built, so
// package-level rejections can be shared and compared by pointer.
type RejectError struct {
	Kind RejectKind
	// Detail replaces the kind's default message when set (e.g. the
	// extranonce2 size the pool expected, or a remote pool's own text).
	Detail string
}

// Message is the text sent to the worker: Detail, or the kind's default.
func (e *RejectError) Message() string {
	if e.Detail != "" {
		return e.Detail
	}
	if e.Kind < numRejectKinds {
		return rejectKinds[e.Kind].text
	}
	return "rejected"
}

func (e *RejectError) Error() string {
	return "stratum: share rejected (" + strconv.Itoa(e.Kind.Code()) + " " + e.Kind.String() + "): " + e.Message()
}

// Wire returns the *Error to put in the mining.submit reply.
func (e *RejectError) Wire() *Error { return NewError(e.Kind.Code(), e.Message()) }

// SubmitReject is the rejection for a mining.submit whose params did not
// decode (err from Request.Decode into *Submit): a bad extranonce2 is
// RejectExtranonce, bad version bits RejectVersion, any other shape
// RejectBadParams; the message is err's text.
func SubmitReject(err error) *RejectError {
	kind := RejectBadParams
	if pe, ok := errors.AsType[*ParamError](err); ok {
		switch pe.Field {
		case submitFieldExtranonce2:
			kind = RejectExtranonce
		case submitFieldVersionBits:
			kind = RejectVersion
		}
	}
	return &RejectError{Kind: kind, Detail: err.Error()}
}

// AsReject reads a rejected submit's error (Response.Bool's result) as a
// *RejectError. A *RejectError in err's chain is returned as is. A
// Stratum *Error gets the kind its code names (21 reads as
// RejectJobNotFound, 20 and unknown codes as RejectOther) and keeps the
// pool's message as Detail; any other error is RejectOther with its text.
// AsReject(nil) is nil.
func AsReject(err error) *RejectError {
	if err == nil {
		return nil
	}
	if r, ok := errors.AsType[*RejectError](err); ok {
		return r
	}
	se, ok := errors.AsType[*Error](err)
	if !ok {
		return &RejectError{Kind: RejectOther, Detail: err.Error()}
	}
	kind := RejectOther
	switch se.Code {
	case ErrJobNotFound:
		kind = RejectJobNotFound
	case ErrDuplicate:
		kind = RejectDuplicate
	case ErrLowDifficulty:
		kind = RejectLowDifficulty
	case ErrUnauthorized:
		kind = RejectUnauthorized
	case ErrNotSubscribed:
		kind = RejectNotSubscribed
	}
	return &RejectError{Kind: kind, Detail: se.Message}
}
