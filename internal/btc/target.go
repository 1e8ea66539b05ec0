package btc

import (
	"math"
	"math/big"
	"math/bits"
)

// Diff1Target is the target of share difficulty 1: 0xFFFF·2^208, the
// target encoded by compact bits 0x1d00ffff ("truediffone", bdiff), in
// internal (little-endian) order.
var Diff1Target = [32]byte{26: 0xff, 27: 0xff}

// diff1Float is 0xFFFF·2^208 as a float64 (exactly representable).
var diff1Float = math.Ldexp(0xffff, 208)

// CompactToTarget expands compact "nBits" into a 256-bit target in internal
// order: mantissa·256^(exponent−3) with mantissa = bits & 0x007fffff.
// It returns a *FieldError (Field "bits") when the sign bit 0x00800000 is
// set, when the value does not fit in 256 bits, or when the target is zero.
func CompactToTarget(bitsv uint32) ([32]byte, error) {
	var t [32]byte
	if bitsv&0x00800000 != 0 {
		return t, fieldErr("bits", "%08x has the sign bit set", bitsv)
	}
	exp := int(bitsv >> 24)
	mant := bitsv & 0x007fffff
	if exp <= 3 {
		mant >>= 8 * uint(3-exp)
		t[0], t[1], t[2] = byte(mant), byte(mant>>8), byte(mant>>16)
	} else {
		for i := 0; i < 3; i++ {
			b := byte(mant >> (8 * uint(i)))
			pos := exp - 3 + i
			if pos > 31 {
				if b != 0 {
					return [32]byte{}, fieldErr("bits", "%08x overflows 256 bits", bitsv)
				}
				continue
			}
			t[pos] = b
		}
	}
	if t == ([32]byte{}) {
		return t, fieldErr("bits", "%08x encodes a zero target", bitsv)
	}
	return t, nil
}

// TargetToCompact encodes a target as compact bits, truncating it to its
// 3 most significant bytes the way Bitcoin Core's GetCompact does. The zero
// target encodes as 0.
func TargetToCompact(t [32]byte) uint32 {
	size := 32
	for size > 0 && t[size-1] == 0 {
		size--
	}
	if size == 0 {
		return 0
	}
	var mant uint32
	if size <= 3 {
		for i := size - 1; i >= 0; i-- {
			mant = mant<<8 | uint32(t[i])
		}
		mant <<= 8 * uint(3-size)
	} else {
		mant = uint32(t[size-1])<<16 | uint32(t[size-2])<<8 | uint32(t[size-3])
	}
	if mant&0x00800000 != 0 {
		mant >>= 8
		size++
	}
	return mant | uint32(size)<<24
}

// DifficultyToTarget returns the share target for difficulty diff:
// floor(0xFFFF·2^208 / diff), clamped to 2^256−1 for tiny difficulties.
// It returns a *FieldError (Field "difficulty") when diff is not a finite
// number > 0.
func DifficultyToTarget(diff float64) ([32]byte, error) {
	var t [32]byte
	if math.IsNaN(diff) || math.IsInf(diff, 0) || diff <= 0 {
		return t, fieldErr("difficulty", "%v is not a finite number > 0", diff)
	}
	num := new(big.Float).SetPrec(320).SetMantExp(big.NewFloat(0xffff), 208)
	q := new(big.Float).SetPrec(320).Quo(num, new(big.Float).SetPrec(320).SetFloat64(diff))
	qi, _ := q.Int(nil)
	if qi.BitLen() > 256 {
		for i := range t {
			t[i] = 0xff
		}
		return t, nil
	}
	var be [32]byte
	qi.FillBytes(be[:])
	for i := range be {
		t[i] = be[31-i]
	}
	return t, nil
}

// TargetToDifficulty returns 0xFFFF·2^208 / t as a float64 (bdiff). A zero
// target has infinite difficulty.
func TargetToDifficulty(t [32]byte) float64 {
	return diff1Float / targetFloat(&t)
}

// HashDifficulty returns the share difficulty that hash h achieves, i.e.
// the largest difficulty whose target h still meets (0xFFFF·2^208 / h).
// It allocates nothing.
func HashDifficulty(h [32]byte) float64 {
	return diff1Float / targetFloat(&h)
}

// targetFloat converts a little-endian 256-bit number to the nearest-ish
// float64 (relative error below 2^-52).
func targetFloat(t *[32]byte) float64 {
	// Find the most significant non-zero 64-bit limb and take the 64 bits
	// starting at the top set bit.
	var limbs [4]uint64
	for i := 0; i < 4; i++ {
		for j := 7; j >= 0; j-- {
			limbs[i] = limbs[i]<<8 | uint64(t[i*8+j])
		}
	}
	top := 3
	for top >= 0 && limbs[top] == 0 {
		top--
	}
	if top < 0 {
		return 0
	}
	lz := bits.LeadingZeros64(limbs[top])
	hi := limbs[top] << uint(lz)
	if top > 0 && lz > 0 {
		hi |= limbs[top-1] >> uint(64-lz)
	}
	// hi holds bits [top*64+63-lz .. top*64-lz] of the number.
	return math.Ldexp(float64(hi), top*64-lz)
}

// MeetsTarget reports whether hash h, read as a little-endian 256-bit
// number, is <= target t. It allocates nothing.
func MeetsTarget(h, t *[32]byte) bool {
	for i := 31; i >= 0; i-- {
		if h[i] != t[i] {
			return h[i] < t[i]
		}
	}
	return true
}
