-- Click density on a 20x20 grid of the display, per application (the day dt)
SELECT app_name,
       CAST(least(floor(x * 20), 19) AS integer) AS col,
       CAST(least(floor(y * 20), 19) AS integer) AS row,
       count(*) AS clicks
FROM interactions
WHERE program = {program} AND dt = {dt} AND type = 'pointer.click'
GROUP BY 1, 2, 3
ORDER BY app_name, row, col
