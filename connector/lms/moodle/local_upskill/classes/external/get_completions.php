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

namespace local_upskill\external;

use core_external\external_api;
use core_external\external_function_parameters;
use core_external\external_multiple_structure;
use core_external\external_single_structure;
use core_external\external_value;
use local_upskill\local\reads;

/**
 * Course completion of every learner enrolled in some courses, in one paged read.
 *
 * One row per learner and course, whatever the enrolment methods, suspended and not yet
 * started or ended enrolments included (Moodle's core functions cannot read those); ordered by
 * course id, then user id. With since > 0 only the completions recorded at or after that time.
 *
 * @package    local_upskill
 * @copyright  2026 upskill-connector
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class get_completions extends external_api {
    /**
     * The parameters.
     *
     * @return external_function_parameters
     */
    public static function execute_parameters(): external_function_parameters {
        return new external_function_parameters([
            'courseids' => new external_multiple_structure(
                new external_value(PARAM_INT, 'Course id'), 'The courses to read'),
            'since' => new external_value(PARAM_INT,
                'Only completions recorded at or after this Unix time; 0: every enrolment, '
                . 'completed or not', VALUE_DEFAULT, 0),
            'limitfrom' => new external_value(PARAM_INT, 'Rows to skip', VALUE_DEFAULT, 0),
            'limitnumber' => new external_value(PARAM_INT, 'Rows at most, 1 to ' . reads::MAX_PAGE,
                VALUE_DEFAULT, reads::MAX_PAGE),
        ]);
    }

    /**
     * Read one page.
     *
     * @param int[] $courseids the courses
     * @param int $since Unix time, or 0
     * @param int $limitfrom rows to skip
     * @param int $limitnumber rows at most
     * @return array courses, completions, hasmore
     */
    public static function execute(array $courseids, int $since = 0, int $limitfrom = 0,
            int $limitnumber = reads::MAX_PAGE): array {
        global $CFG, $DB;
        require_once($CFG->libdir . '/completionlib.php');
        $params = self::validate_parameters(self::execute_parameters(), [
            'courseids' => $courseids, 'since' => $since, 'limitfrom' => $limitfrom,
            'limitnumber' => $limitnumber,
        ]);
        self::validate_context(\context_system::instance());
        $now = time();
        if ($params['since'] > $now) {
            throw new \moodle_exception('sinceinfuture', 'local_upskill', '',
                (object)['since' => $params['since'], 'now' => $now]);
        }
        reads::check_page($params['limitfrom'], $params['limitnumber']);
        $courses = reads::courses($params['courseids']);
        if (!$courses) {
            return ['courses' => [], 'completions' => [], 'hasmore' => false];
        }
        $ids = array_keys($courses);
        [$insql, $inparams] = $DB->get_in_or_equal($ids, SQL_PARAMS_NAMED, 'c');
        [$critsql, $critparams] = $DB->get_in_or_equal($ids, SQL_PARAMS_NAMED, 'k');
        $criteria = $DB->get_records_sql_menu(
            "SELECT course, COUNT(1) FROM {course_completion_criteria} WHERE course $critsql GROUP BY course",
            $critparams);
        // Moodle's course progress (core_completion\progress::get_course_progress_percentage):
        // activities with completion tracking (completion_info::get_activities) and the ones a
        // learner completed or passed (completion_info::count_modules_completed).
        [$actsql, $actparams] = $DB->get_in_or_equal($ids, SQL_PARAMS_NAMED, 'a');
        $activities = $DB->get_records_sql_menu(
            "SELECT course, COUNT(1) FROM {course_modules}
              WHERE course $actsql AND completion > 0 AND deletioninprogress = 0
           GROUP BY course", $actparams);
        [$donesql, $doneparams] = $DB->get_in_or_equal($ids, SQL_PARAMS_NAMED, 'd');
        $having = $params['since'] > 0 ? 'HAVING MAX(COALESCE(cc.timecompleted, 0)) >= :since' : '';
        $sql = "SELECT ue.userid, e.courseid, u.idnumber,
                       MAX(CASE WHEN ue.status = :useractive AND e.status = :instanceenabled
                                 AND ue.timestart < :now1 AND (ue.timeend = 0 OR ue.timeend > :now2)
                                THEN 1 ELSE 0 END) AS isactive,
                       MAX(COALESCE(cc.timecompleted, 0)) AS timecompleted,
                       MAX(COALESCE(done.modules, 0)) AS modulesdone
                  FROM {user_enrolments} ue
                  JOIN {enrol} e ON e.id = ue.enrolid
                  JOIN {user} u ON u.id = ue.userid AND u.deleted = 0
             LEFT JOIN {course_completions} cc ON cc.userid = ue.userid AND cc.course = e.courseid
             LEFT JOIN (SELECT cmc.userid, cm.course, COUNT(1) AS modules
                          FROM {course_modules_completion} cmc
                          JOIN {course_modules} cm ON cm.id = cmc.coursemoduleid
                         WHERE cm.course $donesql AND cmc.completionstate IN (:complete, :completepass)
                      GROUP BY cmc.userid, cm.course) done ON done.userid = ue.userid AND done.course = e.courseid
                 WHERE e.courseid $insql
              GROUP BY ue.userid, e.courseid, u.idnumber
                       $having
              ORDER BY e.courseid, ue.userid";
        $sqlparams = $inparams + $doneparams + [
            'useractive' => ENROL_USER_ACTIVE, 'instanceenabled' => ENROL_INSTANCE_ENABLED,
            'now1' => $now, 'now2' => $now,
            'complete' => COMPLETION_COMPLETE, 'completepass' => COMPLETION_COMPLETE_PASS,
        ];
        if ($params['since'] > 0) {
            $sqlparams['since'] = $params['since'];
        }
        $tracked = [];
        foreach ($courses as $course) {
            $tracked[$course->id] = !empty($CFG->enablecompletion) && !empty($course->enablecompletion);
        }
        $rows = $DB->get_recordset_sql($sql, $sqlparams, $params['limitfrom'], $params['limitnumber'] + 1);
        $completions = [];
        $hasmore = false;
        foreach ($rows as $row) {
            if (count($completions) === $params['limitnumber']) {
                $hasmore = true;
                break;
            }
            $courseid = (int)$row->courseid;
            $timecompleted = $tracked[$courseid] ? (int)$row->timecompleted : 0;
            $count = (int)($activities[$courseid] ?? 0);
            $progress = null;
            if ($timecompleted > 0) {
                $progress = 100.0;
            } else if ($tracked[$courseid] && $count > 0) {
                $progress = round(100.0 * min((int)$row->modulesdone, $count) / $count, 2);
            }
            $completions[] = [
                'userid' => (int)$row->userid,
                'idnumber' => (string)$row->idnumber,
                'courseid' => $courseid,
                'status' => $row->isactive ? 'active' : 'suspended',
                'timecompleted' => $timecompleted,
                'progress' => $progress,
            ];
        }
        $rows->close();
        $answer = [];
        foreach ($courses as $course) {
            $answer[] = ['id' => (int)$course->id, 'completionenabled' => $tracked[$course->id],
                'criteria' => (int)($criteria[$course->id] ?? 0)];
        }
        return ['courses' => $answer, 'completions' => $completions, 'hasmore' => $hasmore];
    }

    /**
     * The answer.
     *
     * @return external_single_structure
     */
    public static function execute_returns(): external_single_structure {
        return new external_single_structure([
            'courses' => new external_multiple_structure(new external_single_structure([
                'id' => new external_value(PARAM_INT, 'Course id'),
                'completionenabled' => new external_value(PARAM_BOOL,
                    'Whether completion is tracked (site and course); when not, no row says completed'),
                'criteria' => new external_value(PARAM_INT, 'Course completion criteria of the course'),
            ]), 'The courses read'),
            'completions' => new external_multiple_structure(new external_single_structure([
                'userid' => new external_value(PARAM_INT, 'User id'),
                'idnumber' => new external_value(PARAM_RAW, 'The user\'s idnumber'),
                'courseid' => new external_value(PARAM_INT, 'Course id'),
                'status' => new external_value(PARAM_ALPHA,
                    'active, or suspended (suspended, not started, ended or method disabled)'),
                'timecompleted' => new external_value(PARAM_INT, 'When the course was completed; 0: not'),
                'progress' => new external_value(PARAM_FLOAT,
                    'Course progress as Moodle gives it: the percentage of the activities with completion '
                    . 'tracking completed, 100 once the course is complete; null without such activities '
                    . 'or when completion is not tracked',
                    VALUE_REQUIRED, null, NULL_ALLOWED),
            ])),
            'hasmore' => new external_value(PARAM_BOOL, 'Whether a next page (limitfrom + limitnumber) holds more'),
        ]);
    }
}
