package witness

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the witness's Prometheus collectors. Labels are bounded: the
// endpoint is one of two and the code one of the few statuses the handler
// answers with.
type metrics struct {
	requests *prometheus.CounterVec // endpoint, code
	duration prometheus.Histogram
	forks    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "witness_requests_total",
			Help: "Requests answered, by endpoint (add-checkpoint, checkpoint) and HTTP status code.",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "witness_add_checkpoint_duration_seconds",
			Help:    "Time to answer an add-checkpoint request, including the wait for the log's lock and the fsyncs.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms to 4 s
		}),
		forks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "witness_forks_detected_total",
			Help: "Requests carrying a validly signed checkpoint of the size the witness cosigned last but with another root: proof that the log forked. Must stay 0; the evidence is under the state directory's evidence/.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.forks} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("registering witness metrics: another witness uses this registry: %w", err)
			}
			return nil, fmt.Errorf("registering witness metrics: %w", err)
		}
	}
	return m, nil
}
