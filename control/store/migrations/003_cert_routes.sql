-- The routes a container certificate was issued with (sorted, comma-separated), so control knows
-- when a route change requires re-issuing it.
ALTER TABLE instances ADD COLUMN cert_routes text;
