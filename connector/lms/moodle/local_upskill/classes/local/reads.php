<?php
// This file is part of Moodle - https://moodle.org/
//
// Moodle is free software: you can redistribute it and/or modify
// it under the terms of the GNU General Public License as published by
// the Free Software Foundation, either version 3 of the License, or
// (at your option) any later version.
//
// Moodle is distributed in the hope that it will be useful,
// but WITHOUT ANY WARRANTY; without even the implied warranty of
// MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
// GNU General Public License for more details.
//
// You should have received a copy of the GNU General Public License
// along with Moodle.  If not, see <https://www.gnu.org/licenses/>.

namespace local_upskill\local;

use moodle_exception;

/**
 * What the bulk reads share: the page limits, the courses and the capability check.
 *
 * @package    local_upskill
 * @copyright  2026 upskill-connector
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class reads {
    /** @var int The most rows one page holds. */
    public const MAX_PAGE = 5000;

    /**
     * Refuse a page outside the limits.
     *
     * @param int $limitfrom rows to skip
     * @param int $limitnumber rows at most
     * @throws moodle_exception limitfrominvalid, limitnumbertoolarge
     */
    public static function check_page(int $limitfrom, int $limitnumber): void {
        if ($limitfrom < 0) {
            throw new moodle_exception('limitfrominvalid', 'local_upskill', '', $limitfrom);
        }
        if ($limitnumber < 1 || $limitnumber > self::MAX_PAGE) {
            throw new moodle_exception('limitnumbertoolarge', 'local_upskill', '',
                (object)['max' => self::MAX_PAGE, 'given' => $limitnumber]);
        }
    }

    /**
     * The courses of these ids, each checked for local/upskill:read in its context.
     *
     * @param int[] $courseids course ids (the site's front page is no course here)
     * @return \stdClass[] course id => course (id, enablecompletion)
     * @throws moodle_exception unknowncourses, naming every id not found
     */
    public static function courses(array $courseids): array {
        global $DB;
        $ids = array_values(array_unique(array_map('intval', $courseids)));
        if (!$ids) {
            return [];
        }
        [$insql, $params] = $DB->get_in_or_equal($ids, SQL_PARAMS_NAMED, 'course');
        $params['siteid'] = SITEID;
        $courses = $DB->get_records_select('course', "id $insql AND id <> :siteid", $params,
            'id', 'id, enablecompletion');
        $unknown = array_diff($ids, array_keys($courses));
        if ($unknown) {
            sort($unknown);
            throw new moodle_exception('unknowncourses', 'local_upskill', '', implode(', ', $unknown));
        }
        foreach ($courses as $course) {
            require_capability('local/upskill:read', \context_course::instance($course->id));
        }
        return $courses;
    }

    /**
     * Whether an enrolment counts as active now, as Moodle's own "only active" lists count it.
     *
     * @param \stdClass $row ue.status, instancestatus, timestart, timeend
     * @param int $now the time
     * @return bool
     */
    public static function is_active(\stdClass $row, int $now): bool {
        return (int)$row->status === ENROL_USER_ACTIVE
            && (int)$row->instancestatus === ENROL_INSTANCE_ENABLED
            && (int)$row->timestart < $now
            && ((int)$row->timeend === 0 || (int)$row->timeend > $now);
    }
}
