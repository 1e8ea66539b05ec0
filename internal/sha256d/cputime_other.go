//go:build !linux

package sha256d

import "time"

func threadCPU() time.Duration { return 0 }
