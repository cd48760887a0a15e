-- Which keyboard shortcuts are used in which applications (the 7 days ending at dt)
SELECT app_name, array_join(modifiers, '+') || '+' || key AS shortcut, count(*) AS uses
FROM interactions
WHERE program = {program}
  AND dt BETWEEN date_format(CAST({dt} AS date) - interval '6' day, '%Y-%m-%d') AND {dt}
  AND type = 'key.shortcut'
GROUP BY 1, 2
ORDER BY uses DESC, app_name, shortcut
LIMIT 100
