package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"
)

// table is the generated source table. Its shape is fixed by the benchmark
// spec: five measurements of mixed types, a device and a site column for the
// device template, and a DATETIME(3) time column unique per device.
const (
	tableName = "sensor_readings"
	tableDDL  = `CREATE TABLE sensor_readings (
  id BIGINT PRIMARY KEY AUTO_INCREMENT,
  device_id VARCHAR(32) NOT NULL,
  site VARCHAR(16) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  temperature DOUBLE NULL,
  humidity DOUBLE NULL,
  pressure DOUBLE NULL,
  voltage FLOAT NULL,
  status INT NULL
) ENGINE=InnoDB`
)

// loadColumns is the column list handed to LoadCSV, in CSV field order.
var loadColumns = []string{"id", "device_id", "site", "created_at", "temperature", "humidity", "pressure", "voltage", "status"}

// measurementColumns are the mapped value columns, in table order.
var measurementColumns = []string{"temperature", "humidity", "pressure", "voltage", "status"}

// genBase is the created_at of sequence number 0 of every device.
var genBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

// generator makes row i of the table as a pure function of (seed, i), so a
// table can be grown by appending rows [have, want) and still hold exactly
// the rows a fresh load of `want` rows would hold.
type generator struct {
	seed    uint64
	devices int
	nulls   uint64 // NULL threshold out of 1<<32 per measurement cell
	devID   []string
	site    []string
}

func newGenerator(seed uint64, devices int, nullFrac float64) *generator {
	g := &generator{seed: seed, devices: devices, nulls: uint64(nullFrac * (1 << 32))}
	g.devID = make([]string, devices)
	g.site = make([]string, devices)
	for d := range devices {
		g.devID[d] = fmt.Sprintf("dev%05d", d)
		g.site[d] = fmt.Sprintf("site%02d", d%20)
	}
	return g
}

// splitmix64 is a well-mixed hash of x (Steele, Lea, Flood 2014).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// row is one generated row; a false valid flag means NULL.
type row struct {
	id        int64
	device    int
	createdMs int64
	vals      [5]float64
	valid     [5]bool
}

// at fills r with row i (0-based; id = i+1).
func (g *generator) at(i int64, r *row) {
	d := int(i % int64(g.devices))
	seq := i / int64(g.devices)
	r.id = i + 1
	r.device = d
	// One reading per device per second, each device at its own millisecond
	// offset: (device, created_at) is unique, as the mapping needs.
	r.createdMs = genBase + seq*1000 + int64(d*7%1000)
	h := splitmix64(g.seed ^ uint64(i)*0x2545f4914f6cdd1d)
	for m := range 5 {
		h = splitmix64(h + uint64(m))
		r.valid[m] = h&0xffffffff >= g.nulls
		u := float64(h>>40) / float64(1<<24) // [0,1)
		switch m {
		case 0: // temperature, °C, 3 decimals
			r.vals[m] = float64(int64((15+u*20)*1000)) / 1000
		case 1: // humidity, %, 2 decimals
			r.vals[m] = float64(int64((30+u*60)*100)) / 100
		case 2: // pressure, hPa, 2 decimals
			r.vals[m] = float64(int64((990+u*40)*100)) / 100
		case 3: // voltage, V (FLOAT), 3 decimals
			r.vals[m] = float64(int64((3.0+u*0.6)*1000)) / 1000
		case 4: // status, mostly 0
			r.vals[m] = float64(int64(u * u * 4))
		}
	}
}

// genStats counts what a load produced: the non-NULL cells are the points
// IoTDB must hold afterwards.
type genStats struct {
	rows   int64
	points int64
}

// writeCSV writes rows [from, to) in testenv.LoadCSV's format: comma
// separated, \N for NULL, one row per line. No field needs quoting.
func (g *generator) writeCSV(w io.Writer, from, to int64) (genStats, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var st genStats
	var r row
	buf := make([]byte, 0, 256)
	for i := from; i < to; i++ {
		g.at(i, &r)
		buf = buf[:0]
		buf = strconv.AppendInt(buf, r.id, 10)
		buf = append(buf, ',')
		buf = append(buf, g.devID[r.device]...)
		buf = append(buf, ',')
		buf = append(buf, g.site[r.device]...)
		buf = append(buf, ',')
		buf = time.UnixMilli(r.createdMs).UTC().AppendFormat(buf, "2006-01-02 15:04:05.000")
		for m := range 5 {
			buf = append(buf, ',')
			if !r.valid[m] {
				buf = append(buf, '\\', 'N')
				continue
			}
			st.points++
			if m == 4 {
				buf = strconv.AppendInt(buf, int64(r.vals[m]), 10)
			} else {
				buf = strconv.AppendFloat(buf, r.vals[m], 'f', -1, 64)
			}
		}
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return st, err
		}
		st.rows++
	}
	return st, bw.Flush()
}
