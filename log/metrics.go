package log

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"golang.org/x/mod/sumdb/note"
)

type metrics struct {
	selfCheckFailures prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, l *Log) *metrics {
	m := &metrics{
		selfCheckFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "log_inclusion_self_check_failures_total",
			Help: "Checkpoints or inclusion proofs of the log's own that failed to verify. Must stay zero.",
		}),
	}
	if reg == nil {
		return m
	}
	integrated := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "log_integrated_size",
		Help: "Size of the integrated Merkle tree.",
	}, func() float64 {
		n, err := l.reader.IntegratedSize(context.Background())
		if err != nil {
			return -1
		}
		return float64(n)
	})
	published := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "log_published_size",
		Help: "Size of the tree in the published checkpoint.",
	}, func() float64 {
		n, err := l.publishedSize(context.Background())
		if err != nil {
			return -1
		}
		return float64(n)
	})
	unpublished := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "log_unpublished_entries",
		Help: "Integrated entries no published checkpoint covers yet: the publication lag in entries.",
	}, func() float64 {
		n, err := l.reader.IntegratedSize(context.Background())
		if err != nil {
			return -1
		}
		p, err := l.publishedSize(context.Background())
		if err != nil {
			return -1
		}
		return float64(n) - float64(p)
	})
	reg.MustRegister(m.selfCheckFailures, integrated, published, unpublished)
	return m
}

// BridgeOTel sends Tessera's OpenTelemetry metrics (sequencing and
// integration latency, batch sizes, antispam and pushback counters) to the
// Prometheus registerer, by installing a global OTel meter provider backed by
// the OTel Prometheus exporter. Call it once, in main, before opening a log.
// The returned function flushes and stops the provider.
func BridgeOTel(reg prometheus.Registerer) (func(context.Context) error, error) {
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("creating OTel Prometheus exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	otel.SetMeterProvider(mp)
	return mp.Shutdown, nil
}

// witnessTransport records, per witness, how long Tessera's add-checkpoint
// requests take and how they end. The witness label is the name of the
// witness's key in the policy, so its values are bounded by the policy.
type witnessTransport struct {
	base     http.RoundTripper
	names    map[string]string // add-checkpoint URL -> witness key name
	latency  *prometheus.HistogramVec
	requests *prometheus.CounterVec
}

func newWitnessTransport(reg prometheus.Registerer, endpoints map[string]note.Verifier) *witnessTransport {
	t := &witnessTransport{
		base:  http.DefaultTransport,
		names: map[string]string{},
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "log_witness_request_duration_seconds",
			Help:    "Time for a witness to answer an add-checkpoint request, by witness.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 12),
		}, []string{"witness"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "log_witness_requests_total",
			Help: "add-checkpoint requests to witnesses by witness and result: the HTTP status, or transport_error.",
		}, []string{"witness", "result"}),
	}
	for u, v := range endpoints {
		t.names[u] = v.Name()
	}
	if reg != nil {
		reg.MustRegister(t.latency, t.requests)
	}
	return t
}

// RoundTrip implements http.RoundTripper.
func (t *witnessTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	name, ok := t.names[r.URL.String()]
	if !ok {
		name = "other"
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(r)
	t.latency.WithLabelValues(name).Observe(time.Since(start).Seconds())
	result := "transport_error"
	if err == nil {
		result = strconv.Itoa(resp.StatusCode)
	}
	t.requests.WithLabelValues(name, result).Inc()
	return resp, err
}
