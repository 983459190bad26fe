package accountserver_test

import (
	"io"
	"net/http"
	"runtime"
	"testing"
)

// BenchmarkGet measures GET /jwt/v1/accounts/<pub> over loopback HTTP with
// 64 concurrent clients (b.SetParallelism scales per GOMAXPROCS).
//
//	go test ./accountserver -run - -bench Get -benchtime 5s
func BenchmarkGet(b *testing.B) {
	for _, bc := range []struct {
		name string
		inm  bool
	}{{"200", false}, {"304", true}} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEnv(b, nil)
			acc := e.op.NewAccount(b, "A", nil)
			e.put(b, acc, acc.JWT)
			url := e.ts.URL + "/jwt/v1/accounts/" + acc.Pub
			tr := &http.Transport{MaxIdleConnsPerHost: 128}
			client := &http.Client{Transport: tr}
			b.Cleanup(tr.CloseIdleConnections)
			b.SetParallelism(max(1, 64/procs()))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodGet, url, nil)
					if bc.inm {
						req.Header.Set("If-None-Match", `"`+acc.Claims.ID+`"`)
					}
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

func procs() int { return runtime.GOMAXPROCS(0) }
