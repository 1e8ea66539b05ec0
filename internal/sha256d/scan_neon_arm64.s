//go:build !purego

#include "textflag.h"
#include "arm64x4.h"

// NEON (ASIMD) kernel for arm64 cores without the SHA-2 extension: four
// nonces, one per 32-bit lane of each vector register.
//   V0..V7    the state a..h (the names rotate by one register per round)
//   V8..V23   the 16-word message schedule window, W[j] in V(8 + j%16)
//             (the constant words are not kept: see B2R16, H2R16)
//   V24, V25  temporaries
//   V26       t7 in every lane (the H7 check)
//   V28, V29  T1 of even and odd rounds: each round sums the next round's
//             h + K + W into the other one before its Ch destroys g
//   V27, V30  a^b of the round, for the next round's Maj, and b^c (the
//             last round's a^b), the mask of the round's Maj, then Maj
//   V31       the lane offsets 0,1,2,3 added to the group's first nonce
// Per nonce, as the amd64 kernels: block 2 of the header from round 3 on
// (rounds 0..2, round 3's nonce-free terms and W16..W19's are computed once
// per call in prep), the schedule extended in the window without the zero
// words' terms, the feed-forward, then the second hash of the 32-byte
// digest from round 1 (round 0 from the IV is constant but for W0:
// neonH2R0) stopped after round 60, where e is known and H7 = IV7 + e. The
// constant words (block 2's W4..W15, the second hash's W8..W15) are folded:
// their rounds take K+W from one table entry (kBlock2, kHash2), and the
// schedule skips the zero words' terms and takes σ0/σ1 of the constant
// words from neonSched. Only H7 is compared
// (against the target's top word); the Go side rechecks every candidate in
// full (scanKernel -> confirm).
//
// Register use: R0 p (post-indexed by the feed-forward's loads, back
// after), R1 t7, R2 first nonce of the group, R3 groups left, R4 K pointer
// (post-incremented per round), R5 sha2Pad (0x80000000), R7 iv[7], R10
// sha2Pad+44 (640), R13 sha2Pad+76 (256), R19..R22 neonSched+0, +4, +8,
// +12 (σ0(256), σ1(256), σ0(0x80000000), σ0(640)), R23 &p.ms[7]; R12
// neonH2R0, R14 &p.pre3 (p.w16..w19 follow), R15 &p.st, each post-indexed
// by its loads and back at its start after the last, which steps back by
// R24 (-16) or R25 (-20). R6 (iv) and R8 (&p.w), set by PROLOGUE, are not
// used.

// ROR: D = S rotated right by N, in every lane.
#define ROR(D, S, N) \
	VUSHR	$N, S.S4, D.S4; \
	VSLI	$(32-N), S.S4, D.S4

// ROR2: D = (X ror A) ^ (X ror B) (V25 scratch).
#define ROR2(D, X, A, B) \
	ROR(D, X, A); \
	ROR(V25, X, B); \
	VEOR	V25.B16, D.B16, D.B16

// BSIG: D = (X ror A) ^ (X ror B) ^ (X ror C): Σ0 and Σ1.
#define BSIG(D, X, A, B, C) \
	ROR2(D, X, A, B); \
	ROR(V25, X, C); \
	VEOR	V25.B16, D.B16, D.B16

// SSIG: D = (X ror A) ^ (X ror B) ^ (X >> C): σ0 and σ1.
#define SSIG(D, X, A, B, C) \
	ROR2(D, X, A, B); \
	VUSHR	$C, X.S4, V25.S4; \
	VEOR	V25.B16, D.B16, D.B16

// Ch(e,f,g) is a bit insert into g's register (VBIT: g = (g & ~e) | (f & e)),
// which destroys g. g is the next round's h, and h enters a round only in
// its T1 = h + Σ1(e) + Ch(e,f,g) + K + W, so each round first sums the next
// round's h + K + W (NKW, NKC) into the other T1 register (V28 in even
// rounds, V29 in odd ones), and the schedule runs one round ahead: W[j+1]
// is extended before round j.

// NKW: TN = G + K + W for the next round (G its h, W its message word, K
// at R4).
#define NKW(TN, G, W) \
	VLD1R.P	4(R4), [TN.S4]; \
	VADD	W.S4, TN.S4, TN.S4; \
	VADD	G.S4, TN.S4, TN.S4

// NKC: NKW for a constant next message word: the table entry at R4 is
// K + W (kBlock2, kHash2).
#define NKC(TN, G) \
	VLD1R.P	4(R4), [TN.S4]; \
	VADD	G.S4, TN.S4, TN.S4

// T1E: the e half of a round, T holding h + K + W: T += Σ1(e) + Ch(e,f,g)
// (Ch into G, destroyed), d += T (the new e). With NKW, it is the whole of
// rounds 57..60 of the second hash, which only feed e.
#define T1E(D, E, F, G, T) \
	BSIG(V24, E, 6, 11, 25); \
	VADD	V24.S4, T.S4, T.S4; \
	VBIT	E.B16, F.B16, G.B16; \
	VADD	G.S4, T.S4, T.S4; \
	VADD	T.S4, D.S4, D.S4

// ROUND: one SHA-256 round in all four lanes, T1 in T from h + K + W; the
// new a is written into H's register and d += T1, so the caller rotates the
// names. It destroys G (Ch): the next round's h + K + W must be summed
// before it (RND0..RND7, RNDC0..RNDC7).
// Maj(a,b,c) = (b^c) ? a : b, bit by bit (b = c: b; else a is the
// majority), a bit select (VBSL) on the mask b^c, the previous round's a^b,
// which it destroys: XAB receives a^b, XBC holds b^c and then Maj (V27 and
// V30 alternate).
#define ROUND(A, B, C, D, E, F, G, H, T, XAB, XBC) \
	T1E(D, E, F, G, T); \
	ROUNDA(A, B, H, T, XAB, XBC)

// ROUNDA: the a half of a round, T1 in T: H = T1 + Σ0(a) + Maj(a,b,c)
// (Maj into XBC, see ROUND).
#define ROUNDA(A, B, H, T, XAB, XBC) \
	BSIG(V24, A, 2, 13, 22); \
	VEOR	B.B16, A.B16, XAB.B16; \
	VBSL	B.B16, A.B16, XBC.B16; \
	VADD	XBC.S4, V24.S4, V24.S4; \
	VADD	V24.S4, T.S4, H.S4

// SCHED: WJ (holding W[j-16]) += σ0(W15) + W7 + σ1(W2), i.e. W[j] from
// W[j-15], W[j-7] and W[j-2].
#define SCHED(WJ, W15, W7, W2) \
	SSIG(V24, W15, 7, 18, 3); \
	VADD	V24.S4, WJ.S4, WJ.S4; \
	VADD	W7.S4, WJ.S4, WJ.S4; \
	SSIG(V24, W2, 17, 19, 10); \
	VADD	V24.S4, WJ.S4, WJ.S4

// SCHED1: WJ += W7 + σ1(W2), where WJ already holds W[j-16] + σ0(W[j-15])
// or their constant part (B2R16, H2R16).
#define SCHED1(WJ, W7, W2) \
	SSIG(V24, W2, 17, 19, 10); \
	VADD	W7.S4, WJ.S4, WJ.S4; \
	VADD	V24.S4, WJ.S4, WJ.S4

// ADDS0, ADDS1: WJ += σ0(X), σ1(X).
#define ADDS0(WJ, X) \
	SSIG(V24, X, 7, 18, 3); \
	VADD	V24.S4, WJ.S4, WJ.S4

#define ADDS1(WJ, X) \
	SSIG(V24, X, 17, 19, 10); \
	VADD	V24.S4, WJ.S4, WJ.S4

// ADDC: WJ += the constant word at (R), broadcast (V25 scratch).
#define ADDC(WJ, R) \
	VLD1R	(R), [V25.S4]; \
	VADD	V25.S4, WJ.S4, WJ.S4

// SETS1: WJ = W7 + σ1(W2), for a W[j] whose W[j-16] and W[j-15] are zero.
#define SETS1(WJ, W7, W2) \
	SSIG(V24, W2, 17, 19, 10); \
	VADD	V24.S4, W7.S4, WJ.S4

// PRESCHED: block 2's W16..W19 from prep (w16, w17 whole; w18 and w19
// without their W3 terms, added here) into the window, before round 15
// (which sums W16 for round 16). R14 is at p.w16 (after ROUND3's load)
// and back at p.pre3 after.
#define PRESCHED \
	SSIG(V24, V11, 7, 18, 3); \
	VLD3R.P	12(R14), [V8.S4, V9.S4, V10.S4]; \
	VLD1R.P	(R14)(R24), [V25.S4]; \
	VADD	V24.S4, V10.S4, V10.S4; \
	VADD	V25.S4, V11.S4, V11.S4

// STATE3, STATE1: the eight words at (R) broadcast into A..H, with VLD3R and VLD4R
// (each word of 3 or 4 into its own register), so the registers of each
// load are consecutive: A..C, D alone, E..H (block 2's round 3 names) or A
// alone, B..E, F..H (the second hash's round 1 names). R is post-indexed
// and back at its start after the last load (NEG the negated sum of the
// first two loads' sizes).
#define STATE3(R, NEG, A, B, C, D, E, F, G, H) \
	VLD3R.P	12(R), [A.S4, B.S4, C.S4]; \
	VLD1R.P	4(R), [D.S4]; \
	VLD4R.P	(R)(NEG), [E.S4, F.S4, G.S4, H.S4]

#define STATE1(R, NEG, A, B, C, D, E, F, G, H) \
	VLD1R.P	4(R), [A.S4]; \
	VLD4R.P	16(R), [B.S4, C.S4, D.S4, E.S4]; \
	VLD3R.P	(R)(NEG), [F.S4, G.S4, H.S4]

// ROUND3: block 2's round 3 from prep's state after round 2 (in V5..V4,
// round 3's names): T1 = pre3 (at R14, which moves on to p.w16) + W3, pre3
// holding every nonce-free term (Ch included, so g is kept); b^c for Maj
// into V27; round 4's h + K + W into V28.
#define ROUND3 \
	VLD1R.P	4(R14), [V29.S4]; \
	VADD	V11.S4, V29.S4, V29.S4; \
	VADD	V29.S4, V0.S4, V0.S4; \
	VEOR	V6.B16, V7.B16, V27.B16; \
	NKC(V28, V3); \
	ROUNDA(V5, V6, V4, V29, V30, V27)

// RND0..RND7: round j with j%8 = 0..7 (the state names rotate by one
// register per round, T1 alternates V28, V29) after summing round j+1's
// h + K + W with its message word W (NKW); RNDC0..RNDC7 the same where
// round j+1's word is constant, already in its K table entry (NKC).
#define RND0(W) NKW(V29, V6, W); ROUND(V0, V1, V2, V3, V4, V5, V6, V7, V28, V27, V30)
#define RND1(W) NKW(V28, V5, W); ROUND(V7, V0, V1, V2, V3, V4, V5, V6, V29, V30, V27)
#define RND2(W) NKW(V29, V4, W); ROUND(V6, V7, V0, V1, V2, V3, V4, V5, V28, V27, V30)
#define RND3(W) NKW(V28, V3, W); ROUND(V5, V6, V7, V0, V1, V2, V3, V4, V29, V30, V27)
#define RND4(W) NKW(V29, V2, W); ROUND(V4, V5, V6, V7, V0, V1, V2, V3, V28, V27, V30)
#define RND5(W) NKW(V28, V1, W); ROUND(V3, V4, V5, V6, V7, V0, V1, V2, V29, V30, V27)
#define RND6(W) NKW(V29, V0, W); ROUND(V2, V3, V4, V5, V6, V7, V0, V1, V28, V27, V30)
#define RND7(W) NKW(V28, V7, W); ROUND(V1, V2, V3, V4, V5, V6, V7, V0, V29, V30, V27)
#define RNDC0 NKC(V29, V6); ROUND(V0, V1, V2, V3, V4, V5, V6, V7, V28, V27, V30)
#define RNDC1 NKC(V28, V5); ROUND(V7, V0, V1, V2, V3, V4, V5, V6, V29, V30, V27)
#define RNDC2 NKC(V29, V4); ROUND(V6, V7, V0, V1, V2, V3, V4, V5, V28, V27, V30)
#define RNDC3 NKC(V28, V3); ROUND(V5, V6, V7, V0, V1, V2, V3, V4, V29, V30, V27)
#define RNDC4 NKC(V29, V2); ROUND(V4, V5, V6, V7, V0, V1, V2, V3, V28, V27, V30)
#define RNDC5 NKC(V28, V1); ROUND(V3, V4, V5, V6, V7, V0, V1, V2, V29, V30, V27)
#define RNDC6 NKC(V29, V0); ROUND(V2, V3, V4, V5, V6, V7, V0, V1, V28, V27, V30)
#define RNDC7 NKC(V28, V7); ROUND(V1, V2, V3, V4, V5, V6, V7, V0, V29, V30, V27)

// H2R1: second hash rounds 1..7, W2..W7 in V10..V15 (W1 is summed before
// round 1), round 8's word constant.
#define H2R1 \
	RND1(V10); \
	RND2(V11); \
	RND3(V12); \
	RND4(V13); \
	RND5(V14); \
	RND6(V15); \
	RNDC7

// RC7: rounds j..j+6 (j a multiple of 8), rounds j+1..j+7 with constant
// words.
#define RC7 RNDC0; RNDC1; RNDC2; RNDC3; RNDC4; RNDC5; RNDC6

// RS5, RS3: rounds j..j+4 and j+5..j+7 (j a multiple of 8, j >= 16), each
// after extending the next round's W; X0..X15 = the window's registers from
// W[j%16] on. RS2 is RS3 without round j+7.
#define RS5(X0, X1, X2, X3, X4, X5, X6, X7, X8, X9, X10, X11, X12, X13, X14, X15) \
	SCHED(X1, X2, X10, X15); \
	RND0(X1); \
	SCHED(X2, X3, X11, X0); \
	RND1(X2); \
	SCHED(X3, X4, X12, X1); \
	RND2(X3); \
	SCHED(X4, X5, X13, X2); \
	RND3(X4); \
	SCHED(X5, X6, X14, X3); \
	RND4(X5)

#define RS2(X0, X1, X2, X3, X4, X5, X6, X7, X8, X9, X10, X11, X12, X13, X14, X15) \
	SCHED(X6, X7, X15, X4); \
	RND5(X6); \
	SCHED(X7, X8, X0, X5); \
	RND6(X7)

#define RS3(X0, X1, X2, X3, X4, X5, X6, X7, X8, X9, X10, X11, X12, X13, X14, X15) \
	RS2(X0, X1, X2, X3, X4, X5, X6, X7, X8, X9, X10, X11, X12, X13, X14, X15); \
	SCHED(X8, X9, X1, X6); \
	RND7(X8)

// RS8A, RS8B: rounds j..j+7 with the schedule, j%16 = 0 and 8.
#define RS8A RS5(V8, V9, V10, V11, V12, V13, V14, V15, V16, V17, V18, V19, V20, V21, V22, V23); RS3(V8, V9, V10, V11, V12, V13, V14, V15, V16, V17, V18, V19, V20, V21, V22, V23)
#define RS8B RS5(V16, V17, V18, V19, V20, V21, V22, V23, V8, V9, V10, V11, V12, V13, V14, V15); RS3(V16, V17, V18, V19, V20, V21, V22, V23, V8, V9, V10, V11, V12, V13, V14, V15)

// B2R4: block 2 rounds 4..15, constant words; W16..W19 from PRESCHED
// before round 15, which sums W16.
#define B2R4 \
	RNDC4; RNDC5; RNDC6; RNDC7; \
	RC7; \
	PRESCHED; \
	RND7(V8)

// R24TO31: rounds 24..31 of either block (W25..W32 extended), the same in
// both once their constant words are folded: W[j-16] for j = 25..29 is a
// zero word (SETS1), and V22, V23 start with W30's and W31's constant
// parts (SCHED1, SCHED).
#define R24TO31 \
	SETS1(V17, V10, V15); \
	RND0(V17); \
	SETS1(V18, V11, V16); \
	RND1(V18); \
	SETS1(V19, V12, V17); \
	RND2(V19); \
	SETS1(V20, V13, V18); \
	RND3(V20); \
	SETS1(V21, V14, V19); \
	RND4(V21); \
	SCHED1(V22, V15, V20); \
	RND5(V22); \
	SCHED(V23, V8, V16, V21); \
	RND6(V23); \
	SCHED(V8, V9, V17, V22); \
	RND7(V8)

// B2R16: block 2 rounds 16..31 (W17..W32 extended). W16..W19 come from
// PRESCHED; W4 = 0x80000000, W5..W14 = 0 and W15 = 640 are constants, so no
// term of a zero word is added, and V12, V22, V23 (once W4, W14, W15) hold
// the constant parts of W20 (W4), W30 (σ0(W15)) and W31 (W15, also W22's).
#define B2R16 \
	RND0(V9); \
	RND1(V10); \
	RND2(V11); \
	ADDS1(V12, V10); \
	RND3(V12); \
	SSIG(V13, V11, 17, 19, 10); \
	RND4(V13); \
	SETS1(V14, V23, V12); \
	RND5(V14); \
	SETS1(V15, V8, V13); \
	RND6(V15); \
	SETS1(V16, V9, V14); \
	RND7(V16); \
	R24TO31

// B2TAIL: block 2 rounds 56..63. Round 63 sums no next round's terms, but
// its Ch destroys g, the state's h after it: the feed-forward's word 7,
// the second hash's W7 = p.ms[7] + g, is taken into V15 (free since W55's
// last use) before it.
#define B2TAIL \
	RS5(V16, V17, V18, V19, V20, V21, V22, V23, V8, V9, V10, V11, V12, V13, V14, V15); \
	RS2(V16, V17, V18, V19, V20, V21, V22, V23, V8, V9, V10, V11, V12, V13, V14, V15); \
	VLD1R	(R23), [V15.S4]; \
	VADD	V7.S4, V15.S4, V15.S4; \
	ROUND(V1, V2, V3, V4, V5, V6, V7, V0, V29, V30, V27)

// H2R8: second hash rounds 8..15 (constant words), round 15 after W16 =
// W0 + σ0(W1) (W9 = 0 and σ1(W14) = 0).
#define H2R8 \
	RC7; \
	ADDS0(V8, V9); \
	RND7(V8)

// H2R16: second hash rounds 16..31 (W17..W32 extended). W8 = 0x80000000,
// W9..W14 = 0 and W15 = 256 are constants, so no term of a zero word is
// added, σ1(W15), σ0(W8) come from neonSched, and V16, V22, V23 (once W8,
// W14, W15) hold the constant parts of W24 (W8), W30 (σ0(W15)) and W31
// (W15, also W22's).
#define H2R16 \
	ADDS0(V9, V10); \
	ADDC(V9, R20); \
	RND0(V9); \
	ADDS0(V10, V11); \
	ADDS1(V10, V8); \
	RND1(V10); \
	ADDS0(V11, V12); \
	ADDS1(V11, V9); \
	RND2(V11); \
	ADDS0(V12, V13); \
	ADDS1(V12, V10); \
	RND3(V12); \
	ADDS0(V13, V14); \
	ADDS1(V13, V11); \
	RND4(V13); \
	SCHED(V14, V15, V23, V12); \
	RND5(V14); \
	ADDC(V15, R21); \
	SCHED1(V15, V8, V13); \
	RND6(V15); \
	SCHED1(V16, V9, V14); \
	RND7(V16); \
	R24TO31

// H2TAIL: rounds 56..60 of the second hash; 57..60 only feed e (NKW, T1E),
// and round 60 sums no next round's terms.
#define H2TAIL \
	SCHED(V17, V18, V10, V15); \
	RND0(V17); \
	SCHED(V18, V19, V11, V16); \
	NKW(V28, V5, V18); \
	T1E(V2, V3, V4, V5, V29); \
	SCHED(V19, V20, V12, V17); \
	NKW(V29, V4, V19); \
	T1E(V1, V2, V3, V4, V28); \
	SCHED(V20, V21, V13, V18); \
	NKW(V28, V3, V20); \
	T1E(V0, V1, V2, V3, V29); \
	T1E(V7, V0, V1, V2, V28)

// func kernelNEON4(p *prep, t7, base, n uint32) (nonce uint32, ok bool)
TEXT ·kernelNEON4(SB), NOSPLIT, $0-29
	PROLOGUE
	ADD	$76, R0, R14 // &p.pre3 (prepOffPre3; p.w16 follows)
	ADD	$32, R0, R15 // &p.st (prepOffSt)
	ADD	$28, R0, R23 // &p.ms[7] (prepOffMS+28)
	ADD	$44, R5, R10 // 640
	ADD	$76, R5, R13 // 256
	MOVD	$·neonSched(SB), R19 // σ0(256)
	ADD	$4, R19, R20 // σ1(256)
	ADD	$8, R19, R21 // σ0(0x80000000)
	ADD	$12, R19, R22 // σ0(640)
	MOVD	$·neonH2R0(SB), R12
	MOVD	$-16, R24
	MOVD	$-20, R25
	MOVD	$·neonLanes(SB), R9
	VLD1	(R9), [V31.S4]
	VDUP	R1, V26.S4

loop:
	// Block 2 from round 3: prep's state after the nonce-free rounds 0..2,
	// W3 the nonces, W4..W15 padding (W0..W2 are only in prep's terms).
	MOVD	$·kBlock2+16(SB), R4
	STATE3(R15, R24, V5, V6, V7, V0, V1, V2, V3, V4)
	VDUP	R2, V11.S4
	VADD	V31.S4, V11.S4, V11.S4
	VREV32	V11.B16, V11.B16
	// The constant parts of W20, W30, W31 (B2R16).
	VLD1R	(R5), [V12.S4]
	VLD1R	(R22), [V22.S4]
	VLD1R	(R10), [V23.S4]
	ROUND3
	B2R4
	B2R16
	RS8A; RS8B
	RS8A; B2TAIL
	// Feed-forward: the first digest is the second hash's words 0..7 (W7,
	// in V15, taken in B2TAIL): p.ms[0..6] broadcast into V8..V14 (R0
	// post-indexed, back at p after), plus the state.
	VLD4R.P	16(R0), [V8.S4, V9.S4, V10.S4, V11.S4]
	VLD3R.P	(R0)(R24), [V12.S4, V13.S4, V14.S4]
	VADD	V0.S4, V8.S4, V8.S4
	VADD	V1.S4, V9.S4, V9.S4
	VADD	V2.S4, V10.S4, V10.S4
	VADD	V3.S4, V11.S4, V11.S4
	VADD	V4.S4, V12.S4, V12.S4
	VADD	V5.S4, V13.S4, V13.S4
	VADD	V6.S4, V14.S4, V14.S4
	// The constant parts of W24, W30, W31 (H2R16).
	VLD1R	(R5), [V16.S4]
	VLD1R	(R19), [V22.S4]
	VLD1R	(R13), [V23.S4]
	// Second hash, rounds 1..60; e after round 60 is in V7. Round 0 from
	// the IV: the state after it less W0 (round 1's names), plus W0 in a
	// and e; b^c for round 1's Maj into V27; round 1's h + K + W into V29.
	MOVD	$·kHash2+4(SB), R4
	STATE1(R12, R25, V7, V0, V1, V2, V3, V4, V5, V6)
	VADD	V8.S4, V7.S4, V7.S4
	VADD	V8.S4, V3.S4, V3.S4
	VEOR	V0.B16, V1.B16, V27.B16
	NKW(V29, V6, V9)
	H2R1
	H2R8
	H2R16
	RS8A; RS8B
	RS8A; H2TAIL
	// H7 = IV7 + e, byte-swapped, against t7 in all four lanes at once:
	// H7 <= t7 where min(H7, t7) = H7; the lanes' masks (0 or -1) summed
	// are 0 only if no lane is a candidate. A candidate goes to hit, out
	// of the loop, which finds the first such lane.
	VDUP	R7, V24.S4
	VADD	V7.S4, V24.S4, V24.S4
	VREV32	V24.B16, V24.B16
	VUMIN	V26.S4, V24.S4, V25.S4
	VCMEQ	V25.S4, V24.S4, V25.S4
	VADDV	V25.S4, V25
	VMOV	V25.S[0], R9
	CBNZW	R9, hit

next:
	NEXT

none:
	RETURN_NONE

hit:
	// The same test per lane, the group's first nonce first (a lane is
	// always found; were none, the scan would go on).
	CHECK_H7(V7, 0, 0)
	CHECK_H7(V7, 1, 1)
	CHECK_H7(V7, 2, 2)
	CHECK_H7(V7, 3, 3)
	B	next

found:
	RETURN_FOUND
