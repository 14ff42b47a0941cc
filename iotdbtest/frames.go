package iotdbtest

import (
	"encoding/binary"
	"net"
)

// Request frames (docs/iotdb.md §1.1): a real server refuses a request
// frame larger than its thrift_max_frame_size and drops the connection
// (the client sees the connection end, not a status). The double does the
// same with Options.MaxFrameSize and keeps, in Stats, the largest request
// frame it read and how many it refused, so tests can check that a sender
// stays under the limit.

// DefaultMaxFrameSize is the double's request frame limit when
// Options.MaxFrameSize is 0: IoTDB 2.x derives its limit from the DataNode
// memory and never lets it default above 64 MiB (dn_thrift_max_frame_size).
const DefaultMaxFrameSize = 64 << 20

// frameMeter watches the framed byte stream of one connection: a 4-byte
// big-endian length, then that many bytes, again and again.
type frameMeter struct {
	net.Conn
	srv  *Server
	hdr  [4]byte
	nhdr int   // header bytes seen of the next frame
	left int64 // bytes of the current frame still to come
}

func (m *frameMeter) Read(p []byte) (int, error) {
	n, err := m.Conn.Read(p)
	b := p[:n]
	for len(b) > 0 {
		if m.left > 0 {
			k := int64(len(b))
			if k > m.left {
				k = m.left
			}
			m.left -= k
			b = b[k:]
			continue
		}
		c := copy(m.hdr[m.nhdr:], b)
		m.nhdr += c
		b = b[c:]
		if m.nhdr == 4 {
			m.nhdr = 0
			m.left = int64(binary.BigEndian.Uint32(m.hdr[:]))
			m.srv.frameSeen(m.left)
		}
	}
	return n, err
}

func (s *Server) maxFrameSize() int32 {
	if s.opts.MaxFrameSize > 0 {
		return int32(min(s.opts.MaxFrameSize, 1<<31-1))
	}
	return DefaultMaxFrameSize
}

func (s *Server) frameSeen(size int64) {
	st := s.store
	st.mu.Lock()
	st.stats.LargestFrame = max(st.stats.LargestFrame, size)
	if size > int64(s.maxFrameSize()) {
		st.stats.OversizedFrames++
	}
	st.mu.Unlock()
}
