package personality

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	submissions *prometheus.CounterVec
	latency     *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "personality_submissions_total",
			Help: "Submissions by entry kind (unknown when unparseable) and result (accepted, duplicate, rejected, pushback).",
		}, []string{"kind", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "personality_submission_duration_seconds",
			Help:    "Time from receiving a submission to its durable index (stage=sequenced) and to its evidence bundle (stage=receipt).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"stage"}),
	}
	if reg != nil {
		reg.MustRegister(m.submissions, m.latency)
	}
	return m
}
