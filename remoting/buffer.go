package remoting

import (
	"math/bits"
	"sync"
)

// Size-classed byte buffers for frame bodies: powers of two from 512 B to
// 16 MiB. Larger requests are allocated exactly and never pooled.
const (
	minBufferShift = 9
	maxBufferShift = 24
)

var bufferPools [maxBufferShift - minBufferShift + 1]sync.Pool

func bufferClass(n int) int {
	if n <= 1<<minBufferShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minBufferShift
}

// getBuffer returns a buffer of length n. Its capacity is the size class.
func getBuffer(n int) *[]byte {
	class := bufferClass(n)
	if class >= len(bufferPools) {
		b := make([]byte, n)
		return &b
	}
	if v := bufferPools[class].Get(); v != nil {
		b := v.(*[]byte)
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, 1<<(class+minBufferShift))
	return &b
}

// putBuffer returns a buffer from getBuffer to its pool.
func putBuffer(b *[]byte) {
	c := cap(*b)
	if c < 1<<minBufferShift || c > 1<<maxBufferShift || c&(c-1) != 0 {
		return
	}
	bufferPools[bits.Len(uint(c))-1-minBufferShift].Put(b)
}
