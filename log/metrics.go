package log

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
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
