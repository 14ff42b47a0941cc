package iotdbsink

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/iotdb-client-go/v2/client"
	"github.com/cenkalti/backoff/v4"
	"github.com/mysql-iotdb-bridge/bridge/internal/retry"
)

// Retry classification.
//
//	transport error (not a status: refused, reset, EOF,
//	our own deadline, client panic)              retry on a fresh session
//	305 INTERNAL_SERVER_ERROR                    retry
//	600 SYSTEM_READ_ONLY, 602 STORAGE_ENGINE_NOT_READY,
//	606 WRITE_PROCESS_REJECT, 611 DISK_SPACE_INSUFFICIENT   retry (server busy or
//	                                             temporarily read-only; waiting is better than dead-lettering)
//	712 INTERNAL_REQUEST_TIME_OUT, 713 INTERNAL_REQUEST_RETRY_ERROR  retry
//	904/905/906 consensus not ready, leader change,
//	no available region group                    retry (cluster transitions)
//	302 MULTIPLE_ERROR                           per sub-status, as above
//	everything else (303, 5xx incl. 507/509, 607, 609,
//	7xx, 8xx, unknown codes)                     permanent: a Rejection naming the device
func retryableCode(code int32) bool {
	switch code {
	case client.InternalServerError,
		client.SystemReadOnly, client.StorageEngineNotReady, client.WriteProcessReject, client.DiskSpaceInsufficient,
		client.InternalRequestTimeOut, client.InternalRequestRetryError,
		client.ConsensusNotInitialized, client.RegionLeaderChangeError, client.NoAvailableRegionGroup:
		return true
	}
	return false
}

// Retryable reports whether err, returned by the sink, is worth another
// attempt: a transport failure, or a status that says the server is busy,
// read-only for now or changing leaders (for a 302, every failed
// sub-status must be such a status). It is the one rule: the sink's own
// retries use it, and cdc uses it to tell an outage (restart the stream
// from the last acknowledged commit) from a verdict on the rows (dirty).
// A closed sink is not retryable.
func Retryable(err error) bool {
	if errors.Is(err, errClosed) {
		return false
	}
	var te *TLSError
	if errors.As(err, &te) {
		return false // a refused certificate or a port without TLS (tls.go)
	}
	var se *StatusError
	if !errors.As(err, &se) {
		return true // transport
	}
	if se.Code != client.MultipleError {
		return retryableCode(se.Code)
	}
	failed := false
	for _, sub := range se.Sub {
		if sub == nil || sub.Code == client.SuccessStatus || sub.Code == client.RedirectionRecommend {
			continue
		}
		if !retryableCode(sub.Code) {
			return false
		}
		failed = true
	}
	return failed
}

// statusCode is the IoTDB code of err, or 0 for a transport error.
func statusCode(err error) int32 {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// retry runs fn until it succeeds, fails permanently, ctx ends or the
// backoff policy (exponential with jitter, bounded by cfg.Retry) gives up.
// It returns fn's last error.
func (s *Sink) retry(ctx context.Context, op string, fn func() error) error {
	bo := retry.New(s.cfg.Retry)
	attempts := 0
	var last error
	err := backoff.RetryNotify(func() error {
		attempts++
		err := fn()
		last = err
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !Retryable(err) {
			return backoff.Permanent(err)
		}
		return err
	}, backoff.WithContext(bo, ctx), func(err error, wait time.Duration) {
		s.metrics.Retried(op, statusCode(err))
		ev := s.log.Debug()
		if s.outage.Failed() {
			ev = s.log.Warn()
		}
		ev.Err(err).Str("op", op).Int("attempt", attempts).Dur("backoff_s", wait.Round(time.Millisecond)).Msg("IoTDB call failing, retrying (further retries log at debug until IoTDB answers)")
	})
	if err == nil {
		if down, ended := s.outage.Recovered(); ended {
			s.log.Info().Dur("down_for_s", down.Round(time.Millisecond)).Msg("IoTDB reachable again")
		}
		return nil
	}
	if last != nil && !errors.Is(err, last) {
		// ctx ended while waiting: keep the cause that made us wait.
		return fmt.Errorf("%w (last error: %v)", err, last)
	}
	if attempts > 1 && Retryable(err) {
		return fmt.Errorf("iotdb %s: giving up after %d attempts: %w", op, attempts, err)
	}
	return err
}
