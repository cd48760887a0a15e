-- Most used menu paths per application (the 7 days ending at dt)
SELECT app_name, array_join(menu_path, ' > ') AS path, count(*) AS uses
FROM interactions
WHERE program = {program}
  AND dt BETWEEN date_format(CAST({dt} AS date) - interval '6' day, '%Y-%m-%d') AND {dt}
  AND type = 'menu.select'
GROUP BY 1, 2
ORDER BY uses DESC, app_name, path
LIMIT 100
