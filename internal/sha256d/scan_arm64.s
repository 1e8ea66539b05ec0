//go:build !purego

#include "textflag.h"
#include "arm64x4.h"

// ARMv8 SHA-2 extension kernel: four nonces interleaved, each in its own
// eight vector registers, so the SHA unit always has independent work.
// Nonce i (0..3) uses V(8i)..V(8i+7):
//   A = (a,b,c,d), E = (e,f,g,h)  the state, lane 0 first
//   T               copy of A for SHA256H2
//   X               W+K of the current quad-round
//   W0..W3          the 16-word message schedule window
// Per nonce: block 2 of the header from the midstate (64 rounds, 16
// quad-rounds), the feed-forward, then the second hash of the 32-byte digest
// stopped after the SHA256H2 of quad-round 15: its lane 3 is h after round
// 63 = e after round 60, so H7 = IV7 + lane 3 is known without the last
// SHA256H. Only H7 is compared (against the target's top word); the Go side
// rechecks every candidate in full (scanKernel -> confirm).
// The constant words (block 2's W4..W15, the second hash's W8..W15) are
// folded: their quad-rounds take K+W from one table entry (kBlock2, kHash2),
// a SHA256SU0 of constant words only is the identity and left out (block 2's
// quad-rounds 1, 2, the second hash's 2), and block 2's SHA256SU0 of
// quad-round 3, where only the nonce-free W16 enters, is prep's jw[28..31].
//
// Register use: R0 p, R1 t7, R2 first nonce of the group, R3 groups left,
// R4 K pointer, R5 sha2Pad, R6 iv, R7 iv[7], R8 &p.w, R10 sha2Pad+48,
// R12 &p.jw[28].

// QR: the four rounds of X = K + W: A, E advance (T the copy of A that
// SHA256H2 needs).
#define QR(A, E, T, X) \
	VMOV	A.B16, T.B16; \
	SHA256H	X.S4, E, A; \
	SHA256H2	X.S4, T, E

// QS: one quad-round of one nonce, then the schedule step that turns Wa
// (words 4q..4q+3) into words 4q+16..4q+19.
#define QS(A, E, T, X, Wa, Wb, Wc, Wd) \
	VLD1	(R4), [X.S4]; \
	VADD	Wa.S4, X.S4, X.S4; \
	QR(A, E, T, X); \
	SHA256SU0	Wb.S4, Wa.S4; \
	SHA256SU1	Wd.S4, Wc.S4, Wa.S4

// QC: QS for constant words 4q..4q+4 (block 2's q = 1, 2, the second
// hash's q = 2): K + W is the table entry, and SHA256SU0 is the identity
// (Wa + σ0 of zero words), so only SHA256SU1 is left.
#define QC(A, E, T, X, Wa, Wc, Wd) \
	VLD1	(R4), [X.S4]; \
	QR(A, E, T, X); \
	SHA256SU1	Wd.S4, Wc.S4, Wa.S4

// QCP: block 2's q = 3, constant words 12..15: K + W is the table entry,
// and SHA256SU0(W12..15, W16..19), where only the nonce-free W16 enters,
// is prep's jw[28..31].
#define QCP(A, E, T, X, Wa, Wc, Wd) \
	VLD1	(R4), [X.S4]; \
	QR(A, E, T, X); \
	VLD1	(R12), [Wa.S4]; \
	SHA256SU1	Wd.S4, Wc.S4, Wa.S4

// QCS: the second hash's q = 3, constant words 12..15: K + W is the table
// entry; the schedule step is whole (the nonce's W16 enters SHA256SU0).
#define QCS(A, E, T, X, Wa, Wb, Wc, Wd) \
	VLD1	(R4), [X.S4]; \
	QR(A, E, T, X); \
	SHA256SU0	Wb.S4, Wa.S4; \
	SHA256SU1	Wd.S4, Wc.S4, Wa.S4

// Q: one quad-round without schedule (quad-rounds 12..15).
#define Q(A, E, T, X, Wa) \
	VLD1	(R4), [X.S4]; \
	VADD	Wa.S4, X.S4, X.S4; \
	QR(A, E, T, X)

// LAST: quad-round 15 of the second hash: only the new (e,f,g,h).
#define LAST(A, E, X, Wa) \
	VLD1	(R4), [X.S4]; \
	VADD	Wa.S4, X.S4, X.S4; \
	SHA256H2	X.S4, A, E

// INIT: midstate into A,E; block 2 words 0..3 (nonce I of the group in
// lane 3, byte-swapped) into W0; the constant words 4..15 into W1..W3.
#define INIT(A, E, W0, W1, W2, W3, I) \
	VLD1	(R0), [A.S4, E.S4]; \
	VLD1	(R8), [W0.S4]; \
	ADDW	$I, R2, R9; \
	REVW	R9, R9; \
	VMOV	R9, W0.S[3]; \
	VLD1	(R5), [W1.S4, W2.S4, W3.S4]

// FF: feed-forward (first digest = state + midstate) into W0,W1 as the
// second hash's words 0..7, its constant words 8..15 into W2,W3, IV into A,E.
#define FF(A, E, T, X, W0, W1, W2, W3) \
	VLD1	(R0), [T.S4, X.S4]; \
	VADD	T.S4, A.S4, W0.S4; \
	VADD	X.S4, E.S4, W1.S4; \
	VLD1	(R10), [W2.S4, W3.S4]; \
	VLD1	(R6), [A.S4, E.S4]

#define QS4_0 QS(V0, V1, V2, V3, V4, V5, V6, V7); \
	QS(V8, V9, V10, V11, V12, V13, V14, V15); \
	QS(V16, V17, V18, V19, V20, V21, V22, V23); \
	QS(V24, V25, V26, V27, V28, V29, V30, V31); \
	ADD	$16, R4

#define QS4_1 QS(V0, V1, V2, V3, V5, V6, V7, V4); \
	QS(V8, V9, V10, V11, V13, V14, V15, V12); \
	QS(V16, V17, V18, V19, V21, V22, V23, V20); \
	QS(V24, V25, V26, V27, V29, V30, V31, V28); \
	ADD	$16, R4

#define QS4_2 QS(V0, V1, V2, V3, V6, V7, V4, V5); \
	QS(V8, V9, V10, V11, V14, V15, V12, V13); \
	QS(V16, V17, V18, V19, V22, V23, V20, V21); \
	QS(V24, V25, V26, V27, V30, V31, V28, V29); \
	ADD	$16, R4

#define QS4_3 QS(V0, V1, V2, V3, V7, V4, V5, V6); \
	QS(V8, V9, V10, V11, V15, V12, V13, V14); \
	QS(V16, V17, V18, V19, V23, V20, V21, V22); \
	QS(V24, V25, V26, V27, V31, V28, V29, V30); \
	ADD	$16, R4

#define QC4_1 QC(V0, V1, V2, V3, V5, V7, V4); \
	QC(V8, V9, V10, V11, V13, V15, V12); \
	QC(V16, V17, V18, V19, V21, V23, V20); \
	QC(V24, V25, V26, V27, V29, V31, V28); \
	ADD	$16, R4

#define QC4_2 QC(V0, V1, V2, V3, V6, V4, V5); \
	QC(V8, V9, V10, V11, V14, V12, V13); \
	QC(V16, V17, V18, V19, V22, V20, V21); \
	QC(V24, V25, V26, V27, V30, V28, V29); \
	ADD	$16, R4

#define QCP4_3 QCP(V0, V1, V2, V3, V7, V5, V6); \
	QCP(V8, V9, V10, V11, V15, V13, V14); \
	QCP(V16, V17, V18, V19, V23, V21, V22); \
	QCP(V24, V25, V26, V27, V31, V29, V30); \
	ADD	$16, R4

#define QCS4_3 QCS(V0, V1, V2, V3, V7, V4, V5, V6); \
	QCS(V8, V9, V10, V11, V15, V12, V13, V14); \
	QCS(V16, V17, V18, V19, V23, V20, V21, V22); \
	QCS(V24, V25, V26, V27, V31, V28, V29, V30); \
	ADD	$16, R4

#define Q4_0 Q(V0, V1, V2, V3, V4); \
	Q(V8, V9, V10, V11, V12); \
	Q(V16, V17, V18, V19, V20); \
	Q(V24, V25, V26, V27, V28); \
	ADD	$16, R4

#define Q4_1 Q(V0, V1, V2, V3, V5); \
	Q(V8, V9, V10, V11, V13); \
	Q(V16, V17, V18, V19, V21); \
	Q(V24, V25, V26, V27, V29); \
	ADD	$16, R4

#define Q4_2 Q(V0, V1, V2, V3, V6); \
	Q(V8, V9, V10, V11, V14); \
	Q(V16, V17, V18, V19, V22); \
	Q(V24, V25, V26, V27, V30); \
	ADD	$16, R4

#define Q4_3 Q(V0, V1, V2, V3, V7); \
	Q(V8, V9, V10, V11, V15); \
	Q(V16, V17, V18, V19, V23); \
	Q(V24, V25, V26, V27, V31); \
	ADD	$16, R4

#define LAST4 LAST(V0, V1, V3, V7); \
	LAST(V8, V9, V11, V15); \
	LAST(V16, V17, V19, V23); \
	LAST(V24, V25, V27, V31)

// func kernelSHA2x4(p *prep, t7, base, n uint32) (nonce uint32, ok bool)
TEXT ·kernelSHA2x4(SB), NOSPLIT, $0-29
	PROLOGUE
	ADD	$48, R5, R10
	ADD	$(160+4*28), R0, R12 // &p.jw[28] (prepOffJW)

loop:
	MOVD	$·kBlock2(SB), R4
	INIT(V0, V1, V4, V5, V6, V7, 0)
	INIT(V8, V9, V12, V13, V14, V15, 1)
	INIT(V16, V17, V20, V21, V22, V23, 2)
	INIT(V24, V25, V28, V29, V30, V31, 3)
	// First hash: block 2 from the midstate (W4..W15 constant).
	QS4_0; QC4_1; QC4_2; QCP4_3
	QS4_0; QS4_1; QS4_2; QS4_3
	QS4_0; QS4_1; QS4_2; QS4_3
	Q4_0; Q4_1; Q4_2; Q4_3
	FF(V0, V1, V2, V3, V4, V5, V6, V7)
	FF(V8, V9, V10, V11, V12, V13, V14, V15)
	FF(V16, V17, V18, V19, V20, V21, V22, V23)
	FF(V24, V25, V26, V27, V28, V29, V30, V31)
	// Second hash, stopped once H7 is known (W8..W15 constant).
	MOVD	$·kHash2(SB), R4
	QS4_0; QS4_1; QC4_2; QCS4_3
	QS4_0; QS4_1; QS4_2; QS4_3
	QS4_0; QS4_1; QS4_2; QS4_3
	Q4_0; Q4_1; Q4_2; LAST4
	// H7 is lane 3 of each nonce's (e,f,g,h).
	CHECK_H7(V1, 3, 0)
	CHECK_H7(V9, 3, 1)
	CHECK_H7(V17, 3, 2)
	CHECK_H7(V25, 3, 3)
	NEXT

none:
	RETURN_NONE

found:
	RETURN_FOUND
