package commitlog

import (
	"math/bits"
	"sync"
)

// Encoding buffers come from size-classed pools (powers of two from 256 B to 8 MiB) so the
// append path does not allocate in the steady state.
const (
	minBufferShift = 8
	maxBufferShift = 23
)

var bufferPools [maxBufferShift - minBufferShift + 1]sync.Pool

func bufferClass(n int) int {
	if n <= 1<<minBufferShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minBufferShift
}

// getBuffer returns a buffer with capacity for n bytes.
func getBuffer(n int) *[]byte {
	class := bufferClass(n)
	if class >= len(bufferPools) {
		b := make([]byte, 0, n)
		return &b
	}
	if v := bufferPools[class].Get(); v != nil {
		return v.(*[]byte)
	}
	b := make([]byte, 0, 1<<(class+minBufferShift))
	return &b
}

// putBuffer returns a buffer obtained from getBuffer.
func putBuffer(b *[]byte) {
	c := cap(*b)
	class := bufferClass(c)
	if class >= len(bufferPools) || c != 1<<(class+minBufferShift) {
		return
	}
	*b = (*b)[:0]
	bufferPools[class].Put(b)
}
