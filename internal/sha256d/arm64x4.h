// Shared by the arm64 4-nonce kernels (scan_arm64.s, scan_neon_arm64.s),
// both func(p *prep, t7, base, n uint32) (nonce uint32, ok bool).
// Registers: R0 p, R1 t7, R2 first nonce of the group, R3 groups left,
// R5 sha2Pad, R6 iv, R7 iv[7], R8 &p.w, R9 scratch, R11 lane of a hit.

// PROLOGUE: the arguments, n in groups of 4 (none left: to none), and the
// constant pointers.
#define PROLOGUE \
	MOVD	p+0(FP), R0; \
	MOVWU	t7+8(FP), R1; \
	MOVWU	base+12(FP), R2; \
	MOVWU	n+16(FP), R3; \
	LSR	$2, R3, R3; \
	CBZ	R3, none; \
	ADD	$64, R0, R8; \
	MOVD	$·sha2Pad(SB), R5; \
	MOVD	$·iv(SB), R6; \
	MOVWU	28(R6), R7

// CHECK_H7: H7 = IV7 + lane L of E, for the group's nonce I, against t7;
// a hit jumps to found with I in R11.
#define CHECK_H7(E, L, I) \
	VMOV	E.S[L], R9; \
	ADDW	R7, R9, R9; \
	REVW	R9, R9; \
	MOVW	$I, R11; \
	CMPW	R1, R9; \
	BLS	found

// NEXT: on to the next group while groups are left.
#define NEXT \
	ADDW	$4, R2, R2; \
	SUB	$1, R3, R3; \
	CBNZ	R3, loop

#define RETURN_NONE \
	MOVW	ZR, nonce+24(FP); \
	MOVB	ZR, ok+28(FP); \
	RET

#define RETURN_FOUND \
	ADDW	R11, R2, R2; \
	MOVW	R2, nonce+24(FP); \
	MOVD	$1, R9; \
	MOVB	R9, ok+28(FP); \
	RET
