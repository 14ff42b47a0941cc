-- A sample table matching docker/config.yaml, so `docker compose run backfill`
-- has something to copy. Replace with your own tables and mappings.
CREATE TABLE IF NOT EXISTS factory.sensor_readings (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  device_id   VARCHAR(64) NOT NULL,
  site        VARCHAR(32) NOT NULL,
  created_at  DATETIME(3) NOT NULL,
  temperature DOUBLE NULL,
  humidity    FLOAT NULL,
  status      ENUM('ok','warn','fault') NOT NULL DEFAULT 'ok',
  KEY (site, device_id, created_at)
);
INSERT INTO factory.sensor_readings (device_id, site, created_at, temperature, humidity, status) VALUES
  ('pump-7.b', 'plant_a', '2024-01-01 00:00:00.000', 61.5, 40.2, 'ok'),
  ('pump-7.b', 'plant_a', '2024-01-01 00:00:01.000', 61.7, NULL, 'ok'),
  ('press-1',  'plant_b', '2024-01-01 00:00:00.500', 88.0, 35.0, 'warn');
