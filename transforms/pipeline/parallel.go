package pipeline

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallel calls f(i) for every i in [0, n), on as many goroutines as Go
// runs at once (GOMAXPROCS). Each f(i) must touch only its own data.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}
